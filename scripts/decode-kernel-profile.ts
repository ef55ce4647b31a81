/**
 * Where one decoded token's time goes inside onnxruntime, per kernel type: onnxruntime's own profiler (session
 * option enableProfiling) over `--steps` decode calls at depth `--depth`, 1 thread, f16 KV cache, no statistics.
 * Prints, per op type, the kernels per token, µs per token and share of the kernels' total, then the wall time per
 * token with profiling on (profiling adds its own cost per kernel, so read the shares, not the absolute total).
 *
 *   npx tsx scripts/decode-kernel-profile.ts --model FILE.gguf [--depth 512] [--steps 20] [--threads 1]
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { KVCache } from '../src/cache/kv-cache.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { createOrtBackend } from '../src/model/ort-backend.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    depth: { type: 'string', default: '512' },
    steps: { type: 'string', default: '20' },
    threads: { type: 'string', default: '1' },
  },
});
if (!values.model) throw new Error('--model FILE.gguf is required');
const depth = Number(values.depth);
const steps = Number(values.steps);

// The backend creates its session through ort.InferenceSession.create: add the profiler's options there.
const prefix = join(tmpdir(), `kvmerger-kernel-profile-${process.pid}`);
const create = ort.InferenceSession.create.bind(ort.InferenceSession) as (...a: unknown[]) => Promise<ort.InferenceSession>;
let session: ort.InferenceSession | undefined;
(ort.InferenceSession as unknown as { create: unknown }).create = async (model: unknown, opts: ort.InferenceSession.SessionOptions) => {
  session = await create(model, { ...opts, enableProfiling: true, profileFilePrefix: prefix });
  return session;
};

const file = openModelFile(values.model);
const c = file.config;
const backend = await createOrtBackend(file, { threads: Number(values.threads), kvType: 'f16' });
const cache = new KVCache(c.blockCount, c.headCountKv, c.headDim, depth + steps + 8, 'f16');
await backend.forward(Int32Array.from({ length: depth }, (_, i) => (i * 31 + 7) % c.vocabSize), cache, { logits: 'last' });
for (let i = 0; i < 3; i++) await backend.forward(Int32Array.of(i + 1), cache, { logits: 'last' }); // warm-up
const runsBefore = 1 + 3;
const t0 = performance.now();
for (let i = 0; i < steps; i++) await backend.forward(Int32Array.of((i * 13) % c.vocabSize), cache, { logits: 'last' });
const wall = (performance.now() - t0) / steps;
session!.endProfiling(); // writes <prefix>_<date>.json
await backend.dispose();
file.close();

interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }
const name = readdirSync(tmpdir()).find((f) => f.startsWith(`kvmerger-kernel-profile-${process.pid}_`) && f.endsWith('.json'));
if (!name) throw new Error(`onnxruntime wrote no profile under ${prefix}_*.json`);
const events = JSON.parse(readFileSync(join(tmpdir(), name), 'utf8')) as Event[];
rmSync(join(tmpdir(), name));
// Runs appear as 'model_run' session events, in order; keep the kernels of the last `steps` runs.
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
const perRun = kernels.length / runs.length;
const decoded = kernels.slice(Math.round(perRun * runsBefore));
const byOp = new Map<string, { n: number; us: number }>();
for (const k of decoded) {
  const op = k.args?.op_name ?? '?';
  const e = byOp.get(op) ?? { n: 0, us: 0 };
  e.n++;
  e.us += k.dur;
  byOp.set(op, e);
}
const total = [...byOp.values()].reduce((a, e) => a + e.us, 0);
const runUs = runs.slice(runsBefore).reduce((a, e) => a + e.dur, 0) / steps;
console.log(`${values.model.split('/').pop()} depth ${depth}, ${steps} tokens, ${values.threads} thread(s)`);
console.log('| op | kernels / token | µs / token | share |');
console.log('|---|---:|---:|---:|');
for (const [op, e] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
  console.log(`| ${op} | ${(e.n / steps).toFixed(0)} | ${(e.us / steps).toFixed(0)} | ${((100 * e.us) / total).toFixed(1)}% |`);
}
console.log(`| all kernels | ${(decoded.length / steps).toFixed(0)} | ${(total / steps).toFixed(0)} | 100% |`);
console.log(`model_run ${(runUs / 1000).toFixed(2)} ms/token (kernels ${(total / steps / 1000).toFixed(2)}), forward() wall ${wall.toFixed(2)} ms/token (profiling on)`);
