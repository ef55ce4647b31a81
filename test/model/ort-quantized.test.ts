/**
 * The fast path on quantised weights against the reference (which dequantises every tensor): for every GGUF type
 * the packer knows and every shape family (GQA with an untied head, a tied head, qwen2 biases), logits of a prefill
 * and of decode steps after it. Under `fp32` compute the products are exact up to float rounding (1e-4 of the logit
 * scale, as for F32 models); under `int8` the activations are quantised per block as llama.cpp does, so the bound is
 * looser and stated here.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { ForwardBackend } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { MATMUL_NBITS_TYPES } from '../../src/model/ort/matmul-nbits-packing.js';
import type { ComputePrecision } from '../../src/model/ort/linear-layers.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { quantizedWeightSource } from '../helpers/random-quantized.js';

const open: ForwardBackend[] = [];
after(async () => {
  for (const b of open) await b.dispose();
});

const FAMILIES: Record<string, Partial<ModelConfig>> = {
  'GQA 2, untied head': {},
  'tied head': { tiedEmbeddings: true, headCountKv: 1 },
  'qwen2 biases': { architecture: 'qwen2' },
};

/** Worst |Δ| over the logits relative to their largest magnitude, and whether the argmax agrees. */
function compare(a: Float32Array, b: Float32Array): { rel: number; sameTop: boolean } {
  let diff = 0;
  let scale = 0;
  let ia = 0;
  let ib = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
    if (a[i]! > a[ia]!) ia = i;
    if (b[i]! > b[ib]!) ib = i;
  }
  return { rel: diff / scale, sameTop: ia === ib };
}

async function check(type: string, family: string, precision: ComputePrecision, bound: number): Promise<void> {
  const config = smallConfig({ embeddingLength: 256, headCount: 4, feedForwardLength: 512, vocabSize: 96, ...FAMILIES[family] });
  const base = randomWeightSource(config, 11, { scale: 1 });
  const w = quantizedWeightSource(base, 5, (name, shape) => (shape.length === 2 ? type : undefined));
  const fast = await createOrtBackend(w, { threads: 1, precision });
  open.push(fast);
  const ref = new ReferenceBackend(w);
  const cache = () => new KVCache(config.blockCount, config.headCountKv, config.headDim);
  const rc = cache();
  const fc = cache();
  const prompt = Int32Array.from({ length: 12 }, (_, i) => (i * 37 + 5) % config.vocabSize);
  const steps = [prompt, Int32Array.of(3), Int32Array.of(71)];
  for (const [i, toks] of steps.entries()) {
    const r = await ref.forward(toks, rc, { logits: 'last' });
    const f = await fast.forward(toks, fc, { logits: 'last' });
    const { rel } = compare(r.logits, f.logits);
    assert.ok(rel <= bound, `${type}, ${family}, ${precision}, step ${i}: max |Δ logit| ${rel.toExponential(2)} of the scale (bound ${bound})`);
  }
  await fast.dispose();
  open.splice(open.indexOf(fast), 1);
}

for (const type of MATMUL_NBITS_TYPES) {
  for (const family of Object.keys(FAMILIES)) {
    test(`ort on ${type} weights matches the reference (${family}; fp32 compute)`, async () => {
      await check(type, family, 'fp32', 1e-4);
    });
  }
  test(`ort on ${type} weights stays near the reference with int8 activations`, async () => {
    await check(type, 'GQA 2, untied head', 'int8', 6e-2);
  });
}

test('with an f16 KV cache the fast path matches the reference on the same f16 cache, and holds half the bytes', async () => {
  const config = smallConfig({ embeddingLength: 64, headCount: 4, vocabSize: 96 });
  const w = randomWeightSource(config, 21, { scale: 1 });
  const fast = await createOrtBackend(w, { threads: 1, kvType: 'f16' });
  open.push(fast);
  const ref = new ReferenceBackend(w);
  const mk = (t: 'f16' | 'f32') => new KVCache(config.blockCount, config.headCountKv, config.headDim, 16, t);
  const rc = mk('f16');
  const fc = mk('f16');
  const f32 = mk('f32');
  const prompt = Int32Array.from({ length: 20 }, (_, i) => (i * 29 + 3) % config.vocabSize);
  for (const [i, toks] of [prompt, Int32Array.of(5), Int32Array.of(50)].entries()) {
    const r = await ref.forward(toks, rc, { logits: 'last' });
    const f = await fast.forward(toks, fc, { logits: 'last' });
    await ref.forward(toks, f32, { logits: 'last' });
    const { rel } = compare(r.logits, f.logits);
    assert.ok(rel <= 1e-3, `step ${i}: max |Δ logit| ${rel.toExponential(2)} of the scale`);
  }
  assert.equal(fc.bytes() * 2, f32.bytes());
  await assert.rejects(fast.forward(Int32Array.of(1), mk('f32'), { logits: 'last' }), /stores f32 keys and values but this backend was built for f16/);
});

test('a deep model builds and runs with an f16 cache (fresh value names never take a graph output name)', async () => {
  // 40 layers: with names like `v_new_${counter}` the builder's counter once reached a later layer's output name.
  const config = smallConfig({ blockCount: 40, embeddingLength: 16, headCount: 2, headCountKv: 1, feedForwardLength: 16, vocabSize: 32 });
  const w = randomWeightSource(config, 3);
  const fast = await createOrtBackend(w, { threads: 1, kvType: 'f16' });
  open.push(fast);
  const ref = new ReferenceBackend(w);
  const mk = () => new KVCache(config.blockCount, config.headCountKv, config.headDim, 16, 'f16');
  const toks = Int32Array.of(1, 2, 3, 4);
  const { rel } = compare((await ref.forward(toks, mk(), { logits: 'last' })).logits, (await fast.forward(toks, mk(), { logits: 'last' })).logits);
  assert.ok(rel <= 1e-3, `max |Δ logit| ${rel.toExponential(2)} of the scale`);
});
