/**
 * Decode speed of several model files measured in one process, alternating 10 tokens of each for 6 rounds, so a
 * loaded machine slows them alike: median wall and CPU ms per token at a given depth (env DEPTH, default 512), 1 thread (env THREADS), f16 KV.
 *
 *   npx tsx scripts/decode-alternating.ts FILE.gguf [FILE.gguf ...]
 */
import { openModelFile } from '../src/formats/open-model-file.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { KVCache } from '../src/cache/kv-cache.js';
const files = process.argv.slice(2);
if (files.length === 0 || files.includes("--help")) {
  process.stdout.write("npx tsx scripts/decode-alternating.ts FILE.gguf [FILE.gguf ...]   (env DEPTH, default 512; THREADS, default 1)\n");
  process.exit(0);
}
const depth = Number(process.env.DEPTH ?? 512);
const threads = Number(process.env.THREADS ?? 1);
const runs = [] as { name: string; b: Awaited<ReturnType<typeof createOrtBackend>>; cache: KVCache; vocab: number; t: number[] }[];
for (const p of files) {
  const f = openModelFile(p);
  const b = await createOrtBackend(f, { threads, kvType: 'f16' });
  const c = f.config;
  const cache = new KVCache(c.blockCount, c.headCountKv, c.headDim, depth + 200, 'f16');
  await b.forward(Int32Array.from({ length: depth }, (_, i) => (i * 31 + 7) % c.vocabSize), cache, { logits: 'last' });
  runs.push({ name: p.split('/').pop()!.replace(/-llama-l30.*?v49152-/, ' '), b, cache, vocab: c.vocabSize, t: [] });
}
// Wall ms per token, and process CPU ms per token over each block of 10 (on a loaded machine CPU time is what
// other processes disturb least: it leaves out the time the process waited for a core).
const cpu = new Map(runs.map((r) => [r, [] as number[]]));
for (let round = 0; round < 6; round++) {
  for (const r of runs) {
    const u0 = process.cpuUsage();
    for (let i = 0; i < 10; i++) { const t = performance.now(); await r.b.forward(Int32Array.of((i * 13) % r.vocab), r.cache, { logits: 'last' }); r.t.push(performance.now() - t); }
    const u = process.cpuUsage(u0);
    cpu.get(r)!.push((u.user + u.system) / 1000 / 10);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
for (const r of runs) console.log(r.name, 'median ms/token', median(r.t).toFixed(2), '=>', (1000 / median(r.t)).toFixed(1), 't/s; CPU ms/token', median(cpu.get(r)!).toFixed(2));
