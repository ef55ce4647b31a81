// What loading a model costs: wall time of createOrtBackend (through the model cache, as loadModel does; set
// KVMERGER_ONNX_CACHE=DIR to use another folder, =off for the in-memory path), where the weights came from, the
// process's memory after it (VmRSS, VmHWM = the peak, RssAnon, RssFile from /proc/self/status; Linux only), then an
// 8-token prefill, --decode single-token steps and a hash of the prefill's logits (equal hashes: bit-identical).
// Usage: npx tsx scripts/load-probe.ts --model FILE.gguf [--decode 16] [--threads 1]
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { benchTokens, emptyCache } from '../src/bench/engine-bench.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { modelFileIdentity } from '../src/model/ort/onnx-cache.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, decode: { type: 'string', default: '16' }, threads: { type: 'string', default: '1' } } });
if (!values.model) throw new Error('--model FILE.gguf is required');
const memory = (): string => {
  const s = readFileSync('/proc/self/status', 'utf8');
  const mib = (k: string) => (Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)![1]) / 1024).toFixed(0);
  return `RSS ${mib('VmRSS')} MiB, peak ${mib('VmHWM')} MiB (anon ${mib('RssAnon')}, file ${mib('RssFile')})`;
};
const t0 = performance.now();
const file = openModelFile(values.model);
const backend = await createOrtBackend(file, { threads: Number(values.threads), cacheIdentity: modelFileIdentity(values.model) });
file.dropCache();
const origin = (backend as unknown as { origin: string }).origin;
console.log(`load ${((performance.now() - t0) / 1000).toFixed(1)} s from ${origin}: ${memory()}`);
const steps = Number(values.decode);
const cache = emptyCache(file.config, 8 + steps);
const r = await backend.forward(benchTokens(8, file.config.vocabSize), cache, { logits: 'last' });
const hash = createHash('sha256').update(new Uint8Array(r.logits.buffer, r.logits.byteOffset, r.logits.byteLength)).digest('hex').slice(0, 16);
const t1 = performance.now();
for (let i = 0; i < steps; i++) await backend.forward(Int32Array.of((i * 7919 + 5) % file.config.vocabSize), cache, { logits: 'last' });
const perToken = steps > 0 ? `${((performance.now() - t1) / steps).toFixed(1)} ms/token` : '-';
console.log(`decode ${steps} steps: ${perToken}; prefill logits ${hash}; ${memory()}`);
await backend.dispose();
file.close();
