/**
 * How much the int8 activations of the quantised fast path (onnxruntime's accuracy_level 4, the default) cost
 * against float32 compute: the built-in model's weights quantised to each type, teacher-forced over a passage of the
 * built-in haystack; KL(reference ‖ fast) per token and top-1 agreement of each precision against the reference
 * backend on the same quantised weights (so only the arithmetic differs).
 *
 *   npx tsx scripts/precision-check.ts [--types q8_0,q4_0,q4_1,q5_0] [--tokens 256] [--model FILE]
 */
import { parseArgs } from 'node:util';
import { KVCache } from '../src/cache/kv-cache.js';
import type { WeightSource } from '../src/core/weight-source.js';
import { dequantize } from '../src/formats/dequantize.js';
import { quantize } from '../src/formats/quantize.js';
import { builtinHaystackText } from '../src/eval/tasks/builtin-haystack.js';
import { loadModel } from '../src/model/load-model.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { ReferenceBackend } from '../src/model/reference-backend.js';
import type { ForwardBackend } from '../src/model/backend.js';

if (process.argv.includes('--help')) {
  process.stdout.write('npx tsx scripts/precision-check.ts [--types q8_0,q4_0,q4_1,q5_0,q5_1] [--tokens 256] [--model FILE]\n');
  process.exit(0);
}
const { values } = parseArgs({ options: { types: { type: 'string', default: 'q8_0,q4_0,q4_1,q5_0,q5_1' }, tokens: { type: 'string', default: '256' }, model: { type: 'string' } } });
const T = Number(values.tokens);
const model = await loadModel(values.model, { backend: 'reference' });
const base = model.weights;
const ids = Int32Array.from(model.tokenizer.encode(builtinHaystackText().slice(0, 20 * T)).slice(0, T));

/** The model's matrices stored as `type` (as a GGUF file of that type would hold them); vectors stay F32. */
function quantized(type: string): WeightSource {
  const raw = new Map<string, { bytes: Uint8Array; values: Float32Array }>();
  const look = (name: string) => {
    if (base.shapeOf(name).length !== 2) return undefined;
    let r = raw.get(name);
    if (!r) {
      const v = base.get(name);
      const bytes = quantize(v, type, name);
      r = { bytes, values: dequantize(bytes, type, v.length, name) };
      raw.set(name, r);
    }
    return r;
  };
  return {
    config: base.config,
    has: (n) => base.has(n),
    get: (n) => look(n)?.values ?? base.get(n),
    typeOf: (n) => (look(n) ? type : base.typeOf(n)),
    shapeOf: (n) => base.shapeOf(n),
    readBytes: (n) => look(n)?.bytes ?? new Uint8Array(base.get(n).buffer),
  };
}

async function allLogits(b: ForwardBackend): Promise<Float32Array> {
  const c = base.config;
  const cache = new KVCache(c.blockCount, c.headCountKv, c.headDim);
  return (await b.forward(ids, cache, { logits: 'all' })).logits;
}

function compare(ref: Float32Array, got: Float32Array, V: number): { kl: number; top1: number } {
  let kl = 0;
  let agree = 0;
  for (let t = 0; t < ref.length / V; t++) {
    const a = ref.subarray(t * V, (t + 1) * V);
    const b = got.subarray(t * V, (t + 1) * V);
    const lse = (x: Float32Array) => {
      let m = -Infinity;
      for (const v of x) m = Math.max(m, v);
      let s = 0;
      for (const v of x) s += Math.exp(v - m);
      return m + Math.log(s);
    };
    const la = lse(a);
    const lb = lse(b);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < V; i++) {
      const pa = Math.exp(a[i]! - la);
      kl += pa * (a[i]! - la - (b[i]! - lb));
      if (a[i]! > a[ia]!) ia = i;
      if (b[i]! > b[ib]!) ib = i;
    }
    if (ia === ib) agree++;
  }
  const n = ref.length / V;
  return { kl: kl / n, top1: agree / n };
}

const V = base.config.vocabSize;
process.stdout.write(`model ${model.path}, ${T} tokens of the built-in haystack, 1 thread\n`);
// What the quantisation of the weights itself costs, for scale: the reference on the quantised weights vs on F32.
const f32 = await allLogits(new ReferenceBackend(base));
process.stdout.write('| weights | compute | KL(ref ‖ fast) nats/token | top-1 agreement | for scale: KL(F32 ‖ these weights), top-1 |\n|---|---|---:|---:|---:|\n');
for (const type of values.types.split(',').map((t) => t.toUpperCase())) {
  const w = quantized(type);
  const ref = await allLogits(new ReferenceBackend(w));
  const q = compare(f32, ref, V);
  const scale = `${q.kl.toExponential(2)}, ${(q.top1 * 100).toFixed(1)}%`;
  for (const precision of ['fp32', 'int8'] as const) {
    const b = await createOrtBackend(w, { threads: 1, precision });
    const r = compare(ref, await allLogits(b), V);
    await b.dispose();
    process.stdout.write(`| ${type} | ${precision} | ${r.kl.toExponential(2)} | ${(r.top1 * 100).toFixed(1)}% | ${scale} |\n`);
  }
}
await model.close();
