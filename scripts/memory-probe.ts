// Resident memory of one ort-backend session, stage by stage (VmRSS / VmHWM from /proc/self/status; Linux only):
// load, prefill of --tokens with the method's statistics, compression at --budget, --decode tokens.
// Usage: node --expose-gc --import tsx scripts/memory-probe.ts --model FILE.gguf [--method kvmerger] [--budget 0.35]
//        [--tokens 8192] [--chunk 512] [--decode 16] [--threads 1] [--compress-during-prefill]
// With --expose-gc the probe collects garbage after the load, so the session's own growth is seen apart from the load
// peak (the weights' JavaScript buffer otherwise lingers until V8's next major GC, which an 8k prefill triggers early).
// --compress-during-prefill: the method compresses during the chunked prefill whenever a layer exceeds the budget
// (the library's prefillCompressor, as generate --compress-during-prefill), so the full cache never exists.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchTokens } from '../src/bench/engine-bench.js';
import { prepareCompression } from '../src/compress/compress-cache.js';
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
    'compress-during-prefill': { type: 'boolean', default: false },
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
const prep = prepareCompression({ method: values.method, budget: { ratio: budget }, promptLength: T, reserveSlots: Number(values.decode) });
if (values['compress-during-prefill']) {
  const comp = prep.prefillCompressor();
  const pre = await chunkedPrefill({ config: c, backend }, tokens, comp.stats, 0, chunk, (cc, st, next) => comp.afterChunk(cc, st, next));
  cache = pre.cache;
  const peakKv = (comp.peakSlots * c.headDim * 8) / 2 ** 20;
  stage(`prefill + ${values.method}@${budget} during it (${(cpuMs(t0) / T).toFixed(2)} CPU ms/token, ${comp.rounds} rounds, ${comp.ms.toFixed(0)} ms, peak KV ${peakKv.toFixed(0)} MiB)`);
} else {
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
