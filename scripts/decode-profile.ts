// Where decode time goes as the cache grows (issue 7): one ort session, caches of several sizes filled with seeded
// random keys and values (decode cost depends on the slot count only, not on what the slots hold, so no prefill is
// needed), `--steps` decode calls per measurement, sizes in alternating order over `--repeats`; medians of process CPU
// ms and wall ms per token. A least-squares line t = a + b · slots splits the time into a per-token part that does
// not depend on the cache (weights, fixed per-run cost) and a per-slot part (attention over the cache), and turns
// each into an effective bandwidth (weights bytes / a, KV bytes per slot / b).
// Usage: npx tsx scripts/decode-profile.ts --model FILE.gguf [--slots 512,2867,8192] [--steps 16] [--repeats 3]
//        [--threads 1] [--json]
import { parseArgs } from 'node:util';
import { KVCache } from '../src/cache/kv-cache.js';
import { benchTokens } from '../src/bench/engine-bench.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    slots: { type: 'string', default: '512,2867,8192' },
    steps: { type: 'string', default: '16' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.model) throw new Error('--model FILE.gguf is required');
const sizes = values.slots.split(',').map(Number);
const steps = Number(values.steps);
const repeats = Number(values.repeats);
const file = openModelFile(values.model);
const c = file.config;
const weightBytes = file.parameterCount() * 4; // as F32 in the graph (read once per decoded token)
const backend = await createOrtBackend(file, { threads: Number(values.threads), chunk: 512 });
file.dropCache();

/** A cache of `n` slots per head with random keys/values (scaled like real ones: unit-ish norms). */
function filledCache(n: number): KVCache {
  const cache = new KVCache(c.blockCount, c.headCountKv, c.headDim, n + steps);
  const rng = new Rng(n);
  for (const layer of cache.layers) {
    for (const head of layer.heads) {
      for (let i = 0; i < n * c.headDim; i++) {
        head.keys[i] = rng.next() * 2 - 1;
        head.values[i] = rng.next() * 2 - 1;
      }
      for (let j = 0; j < n; j++) {
        head.positions[j] = j;
        head.mass[j] = 1;
      }
      head.length = n;
    }
  }
  cache.nextPosition = n;
  return cache;
}

const caches = new Map(sizes.map((n) => [n, filledCache(n)]));
const next = benchTokens(steps, c.vocabSize, 7);
await backend.forward(next.subarray(0, 1), filledCache(8), { logits: 'last' }); // warm-up
const cpu: Record<number, number[]> = {};
const wall: Record<number, number[]> = {};
for (let r = 0; r < repeats; r++) {
  const order = r % 2 === 0 ? sizes : [...sizes].reverse();
  for (const n of order) {
    const cache = caches.get(n)!.clone(steps); // the same starting cache every time
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await backend.forward(next.subarray(i, i + 1), cache, { logits: 'last' });
    const w = (performance.now() - t0) / steps;
    const u = process.cpuUsage(c0);
    (cpu[n] ??= []).push((u.user + u.system) / 1000 / steps);
    (wall[n] ??= []).push(w);
  }
}
await backend.dispose();
file.close();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const slotBytes = c.blockCount * c.headCountKv * c.headDim * 2 * 4; // K + V of one position over every head
const rows = sizes.map((n) => ({ slots: n, kvBytes: n * slotBytes, cpuMsPerToken: median(cpu[n]!), wallMsPerToken: median(wall[n]!), tokensPerSecond: 1000 / median(wall[n]!) }));
// least squares t = a + b·n on the CPU medians
const mx = rows.reduce((s, r) => s + r.slots, 0) / rows.length;
const my = rows.reduce((s, r) => s + r.cpuMsPerToken, 0) / rows.length;
const b = rows.reduce((s, r) => s + (r.slots - mx) * (r.cpuMsPerToken - my), 0) / rows.reduce((s, r) => s + (r.slots - mx) ** 2, 0);
const a = my - b * mx;
const fit = {
  cpuMsPerTokenFixed: a,
  cpuUsPerSlot: b * 1000,
  weightsGBps: weightBytes / (a / 1000) / 1e9,
  attentionGBps: slotBytes / (b / 1000) / 1e9,
};
if (values.json) {
  process.stdout.write(JSON.stringify({ model: values.model, weightBytes, slotBytes, steps, repeats, rows, fit }) + '\n');
} else {
  const lines = [
    `${values.model}: weights ${(weightBytes / 2 ** 20).toFixed(0)} MiB as F32, ${(slotBytes / 1024).toFixed(1)} KiB of K/V per position, ${steps} steps × ${repeats} repeats (medians)`,
    '| slots per head | KV MiB | CPU ms/token | wall ms/token | tok/s |',
    '|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.slots} | ${(r.kvBytes / 2 ** 20).toFixed(0)} | ${r.cpuMsPerToken.toFixed(2)} | ${r.wallMsPerToken.toFixed(2)} | ${r.tokensPerSecond.toFixed(2)} |`),
    `fit (CPU): ${a.toFixed(2)} ms/token without the cache (weights ${fit.weightsGBps.toFixed(1)} GB/s) + ${(b * 1000).toFixed(2)} µs per slot (K/V ${fit.attentionGBps.toFixed(1)} GB/s)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
