// Resident memory of one ort-backend session, stage by stage (VmRSS / VmHWM from /proc/self/status; Linux only):
// load, prefill of --tokens with the method's statistics, compression at --budget, --decode tokens.
// Usage: node --expose-gc --import tsx scripts/memory-probe.ts --model FILE.gguf [--method kvmerger] [--budget 0.35]
//        [--tokens 8192] [--chunk 512] [--decode 16] [--threads 1] [--chunked-h2o]
// With --expose-gc the probe collects garbage after the load, so the session's own growth is seen apart from the load
// peak (the weights' JavaScript buffer otherwise lingers until V8's next major GC, which an 8k prefill triggers early).
// --chunked-h2o: a prototype of H2O compressing during the prefill (after each chunk, scores += the chunk's column
// sums (GQA mean), evict to the final budget keeping the recent half) — to measure what it would save; it is not a
// method of the library.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchTokens, emptyCache } from '../src/bench/engine-bench.js';
import { prepareCompression } from '../src/compress/compress-cache.js';
import { h2oKeep, recentSlots } from '../src/compress/methods/h2o.js';
import { reduceToKvHeads } from '../src/compress/reduce-to-kv-heads.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { chunkedPrefill } from '../src/generate/chunked-prefill.js';
import { createOrtBackend } from '../src/model/ort-backend.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    method: { type: 'string', default: 'kvmerger' },
    budget: { type: 'string', default: '0.35' },
    tokens: { type: 'string', default: '8192' },
    chunk: { type: 'string', default: '512' },
    decode: { type: 'string', default: '16' },
    threads: { type: 'string', default: '1' },
    'chunked-h2o': { type: 'boolean', default: false },
  },
});
if (!values.model) throw new Error('--model FILE.gguf is required');
const mib = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const gc = (globalThis as { gc?: () => void }).gc;
const settle = async () => {
  if (!gc) return;
  gc();
  await new Promise((r) => setTimeout(r, 300));
};
const lines: string[] = [];
const stage = (what: string) => lines.push(`${what.padEnd(44)} RSS ${mib('VmRSS').toFixed(0).padStart(5)} MiB   HWM ${mib('VmHWM').toFixed(0).padStart(5)} MiB`);
const cpuMs = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};

const T = Number(values.tokens);
const chunk = Number(values.chunk);
const budget = Number(values.budget);
const file = openModelFile(values.model);
const c = file.config;
stage('start');
const backend = await createOrtBackend(file, { threads: Number(values.threads), chunk });
file.dropCache();
stage('after createOrtBackend (load peak)');
await settle();
stage(gc ? 'after load + gc' : 'after load (no --expose-gc)');
writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := VmRSS, so what follows is the session's own peak
const kvFull = (2 * c.blockCount * c.headCountKv * c.headDim * 4 * T) / 2 ** 20;
const tokens = benchTokens(T, c.vocabSize, T);
let cache;
let t0 = process.cpuUsage();
if (values['chunked-h2o']) {
  const b = Math.floor(budget * T);
  cache = emptyCache(c, chunk);
  for (let s = 0; s < T; s += chunk) {
    const r = await backend.forward(tokens.subarray(s, s + chunk), cache, { logits: 'last', stats: { columnSums: true, window: 0, lastRow: false } });
    cache.layers.forEach((layer, l) => {
      const reduced = reduceToKvHeads(r.stats!.columnSums![l]!, layer.kvHeads, 'mean');
      layer.heads.forEach((head, h) => {
        for (let j = 0; j < head.length; j++) head.score[j]! += reduced[h]![j]!;
        if (head.length > b) head.retain(h2oKeep(head.score, head.length, b, recentSlots(b, 0.5)), chunk);
      });
    });
  }
  stage(`prefill + chunked H2O (${(cpuMs(t0) / T).toFixed(2)} CPU ms/token)`);
} else {
  const prep = prepareCompression({ method: values.method, budget: { ratio: budget }, promptLength: T, reserveSlots: Number(values.decode) });
  const pre = await chunkedPrefill({ config: c, backend }, tokens, prep.statsRequest, 0, chunk);
  cache = pre.cache;
  stage(`prefill (${(cpuMs(t0) / T).toFixed(2)} CPU ms/token)`);
  t0 = process.cpuUsage();
  prep.compress(cache, pre.stats);
  stage(`${values.method}@${budget} (${cpuMs(t0).toFixed(0)} CPU ms)`);
  await settle();
  stage(gc ? 'after compression + gc' : 'after compression (no --expose-gc)');
}
const steps = Number(values.decode);
const next = benchTokens(steps, c.vocabSize, 7);
cache.reserve(steps);
t0 = process.cpuUsage();
for (let i = 0; i < steps; i++) await backend.forward(next.subarray(i, i + 1), cache, { logits: 'last' });
stage(`decode ${steps} (${(cpuMs(t0) / steps).toFixed(1)} CPU ms/token)`);
const kept = (cache.bytes() / 2 ** 20).toFixed(0);
console.log(`${values.model}: ${T} tokens, full KV ${kvFull.toFixed(0)} MiB, kept ${kept} MiB\n${lines.join('\n')}`);
await backend.dispose();
file.close();
