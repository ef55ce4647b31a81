import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import type { ForwardResult } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import type { WeightSource } from '../../src/core/weight-source.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';

const newCache = (c: ModelConfig) => new KVCache(c.blockCount, c.headCountKv, c.headDim);
const ids = (...t: number[]) => Int32Array.from(t);
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function mapSource(config: ModelConfig, tensors: Record<string, number[]>): WeightSource {
  return {
    config,
    has: (n) => n in tensors,
    get: (n) => Float32Array.from(tensors[n]!),
    typeOf: () => 'F32',
    shapeOf: (n) => [tensors[n]!.length],
  };
}

test('a one-layer model computed by hand', async () => {
  // vocab 3, hidden 2, one head of dim 2, MLP width 1, tied output, norms of weight 1 and eps 0.
  const config = smallConfig({
    vocabSize: 3,
    embeddingLength: 2,
    feedForwardLength: 1,
    blockCount: 1,
    headCount: 1,
    headCountKv: 1,
    rmsNormEps: 0,
    tiedEmbeddings: true,
  });
  const I = [1, 0, 0, 1];
  const ws = mapSource(config, {
    'token_embd.weight': [1, 0, 0, 1, 1, 1],
    'output_norm.weight': [1, 1],
    'blk.0.attn_norm.weight': [1, 1],
    'blk.0.attn_q.weight': I,
    'blk.0.attn_k.weight': I,
    'blk.0.attn_v.weight': I,
    'blk.0.attn_output.weight': I,
    'blk.0.ffn_norm.weight': [1, 1],
    'blk.0.ffn_gate.weight': [1, 0], // g = h0
    'blk.0.ffn_up.weight': [0, 1], // u = h1
    'blk.0.ffn_down.weight': [1, 1], // x += [silu(g)·u, silu(g)·u]
  });
  const be = new ReferenceBackend(ws);
  const cache = newCache(config);
  const r = await be.forward(ids(0, 1), cache, { logits: 'all', stats: { columnSums: true, window: 0, lastRow: true } });

  const rms = (v: number[]) => {
    const s = Math.sqrt((v[0]! ** 2 + v[1]! ** 2) / 2);
    return [v[0]! / s, v[1]! / s];
  };
  const silu = (z: number) => z / (1 + Math.exp(-z));
  const S = Math.SQRT2;
  // token 0 at position 0: h = [√2, 0] = q = k = v; attends only to itself → x = [1 + √2, 0]; MLP: u = 0.
  const x0 = [1 + S, 0];
  const f0 = rms(x0);
  const logits0 = [f0[0]!, f0[1]!, f0[0]! + f0[1]!];
  // token 1 at position 1: h = [0, √2]; q and k rotated by angle 1: (0, √2) → (−√2 sin 1, √2 cos 1).
  const qk1 = [-S * Math.sin(1), S * Math.cos(1)];
  const s0 = (qk1[0]! * S) / S; // q·k0 / √d with k0 = [√2, 0]
  const s1 = (qk1[0]! ** 2 + qk1[1]! ** 2) / S;
  const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
  const p1 = 1 - p0;
  const a = [0 + p0 * S, 1 + p1 * S];
  const hm = rms(a);
  const m = silu(hm[0]!) * hm[1]!;
  const f1 = rms([a[0]! + m, a[1]! + m]);
  const logits1 = [f1[0]!, f1[1]!, f1[0]! + f1[1]!];
  assert.ok(maxDiff(r.logits, [...logits0, ...logits1]) < 1e-5, `${[...r.logits]} vs ${[...logits0, ...logits1]}`);
  assert.ok(maxDiff(r.stats!.columnSums![0]![0]!, [1 + p0, p1]) < 1e-6);
  assert.ok(maxDiff(r.stats!.lastRow![0]![0]!, [p0, p1]) < 1e-6);
  // keys cached after RoPE, at their positions
  assert.ok(maxDiff(cache.layers[0]!.heads[0]!.keysInUse(), [S, 0, ...qk1]) < 1e-6);
  assert.deepEqual([...cache.layers[0]!.heads[0]!.positions.subarray(0, 2)], [0, 1]);
  assert.equal(cache.nextPosition, 2);
});

const shapes: Array<[string, Partial<ModelConfig>, { ropeFreqs?: boolean }]> = [
  ['llama GQA 2 untied', {}, {}],
  ['llama MHA tied', { headCountKv: 4, tiedEmbeddings: true }, {}],
  ['qwen2 GQA 4 biases neox', { architecture: 'qwen2', headCountKv: 1 }, {}],
  ['llama rope_freqs + partial rope', { ropeDimensionCount: 4 }, { ropeFreqs: true }],
];

for (const [name, over, opts] of shapes) {
  test(`chunked prefill equals one-shot prefill, stats accumulate (${name})`, async () => {
    const config = smallConfig(over);
    const be = new ReferenceBackend(randomWeightSource(config, 7, opts));
    const tokens = Int32Array.from({ length: 13 }, (_, i) => (i * 11 + 3) % config.vocabSize);
    const stats = { columnSums: true, window: 4, lastRow: true };
    const one = newCache(config);
    const full = await be.forward(tokens, one, { logits: 'last', stats, windowStart: 9 });
    const chunked = newCache(config);
    let last: ForwardResult | undefined;
    const col: Float64Array[][] = [];
    const win: Float64Array[][] = [];
    for (const [a, b] of [[0, 5], [5, 10], [10, 13]] as const) {
      const r = await be.forward(tokens.subarray(a, b), chunked, { logits: 'last', stats, windowStart: 9 });
      last = r;
      r.stats!.columnSums!.forEach((layer, l) =>
        layer.forEach((arr, h) => {
          const acc = ((col[l] ??= [])[h] ??= new Float64Array(13));
          arr.forEach((v, j) => (acc[j]! += v));
          const wacc = ((win[l] ??= [])[h] ??= new Float64Array(13));
          r.stats!.windowSums![l]![h]!.forEach((v: number, j: number) => (wacc[j]! += v));
        }),
      );
    }
    assert.ok(maxDiff(full.logits, last!.logits) < 1e-5);
    assert.equal(chunked.nextPosition, 13);
    for (let l = 0; l < config.blockCount; l++) {
      for (let h = 0; h < config.headCountKv; h++) {
        assert.ok(maxDiff(one.layers[l]!.heads[h]!.keysInUse(), chunked.layers[l]!.heads[h]!.keysInUse()) < 1e-6);
      }
      for (let qh = 0; qh < config.headCount; qh++) {
        const c = full.stats!.columnSums![l]![qh]!;
        assert.equal(c.length, 13);
        assert.ok(maxDiff(c, col[l]![qh]!) < 1e-5);
        // every query's row sums to 1: the column sums total the number of queries
        assert.ok(Math.abs(c.reduce((s, v) => s + v, 0) - 13) < 1e-4);
        const w = full.stats!.windowSums![l]![qh]!;
        assert.ok(maxDiff(w, win[l]![qh]!) < 1e-5);
        assert.ok(Math.abs(w.reduce((s, v) => s + v, 0) - 4) < 1e-5);
        assert.ok(maxDiff(full.stats!.lastRow![l]![qh]!, last!.stats!.lastRow![l]![qh]!) < 1e-6);
      }
    }
  });

  test(`logits 'all' equal incremental decode (${name})`, async () => {
    const config = smallConfig(over);
    const be = new ReferenceBackend(randomWeightSource(config, 11, opts));
    const tokens = ids(1, 5, 9, 2, 60, 33, 7);
    const all = await be.forward(tokens, newCache(config), { logits: 'all' });
    assert.equal(all.logits.length, tokens.length * config.vocabSize);
    const cache = newCache(config);
    for (let t = 0; t < tokens.length; t++) {
      const r = await be.forward(tokens.subarray(t, t + 1), cache, { logits: 'last' });
      const row = all.logits.subarray(t * config.vocabSize, (t + 1) * config.vocabSize);
      assert.ok(maxDiff(r.logits, row) < 1e-5, `token ${t}`);
    }
  });
}

test('grouped-query attention: query head q reads KV head floor(q / group)', async () => {
  const gqa = smallConfig({ headCount: 4, headCountKv: 2 });
  const ws = randomWeightSource(gqa, 3);
  const mha = smallConfig({ headCount: 4, headCountKv: 4 });
  const D = gqa.headDim;
  const E = gqa.embeddingLength;
  const dup = (name: string): Float32Array => {
    const src = ws.get(name);
    const out = new Float32Array(4 * D * E);
    for (let qh = 0; qh < 4; qh++) out.set(src.subarray(Math.floor(qh / 2) * D * E, (Math.floor(qh / 2) + 1) * D * E), qh * D * E);
    return out;
  };
  const mhaWs: WeightSource = {
    config: mha,
    has: ws.has,
    get: (n) => (/attn_[kv]\.weight$/.test(n) ? dup(n) : ws.get(n)),
    typeOf: ws.typeOf,
    shapeOf: ws.shapeOf,
  };
  const tokens = ids(4, 8, 15, 16, 23, 42);
  const a = await new ReferenceBackend(ws).forward(tokens, newCache(gqa), { logits: 'all' });
  const b = await new ReferenceBackend(mhaWs).forward(tokens, newCache(mha), { logits: 'all' });
  assert.ok(maxDiff(a.logits, b.logits) < 1e-5);
});

test('only relative positions matter: starting at position 100 gives the same logits', async () => {
  const config = smallConfig();
  const be = new ReferenceBackend(randomWeightSource(config, 5));
  const tokens = ids(3, 1, 4, 1, 5, 9, 2, 6);
  const a = await be.forward(tokens, newCache(config), { logits: 'all' });
  const shifted = newCache(config);
  shifted.nextPosition = 100;
  const b = await be.forward(tokens, shifted, { logits: 'all' });
  assert.ok(maxDiff(a.logits, b.logits) < 1e-4);
  assert.equal(shifted.layers[1]!.heads[0]!.positions[7], 107);
  // but the rotation itself is position-dependent (so RoPE is really applied)
  assert.ok(maxDiff(newCacheKeys(shifted), newCacheKeys((await fresh(be, config, tokens)).cache)) > 1e-2);
});

async function fresh(be: ReferenceBackend, config: ModelConfig, tokens: Int32Array) {
  const cache = newCache(config);
  await be.forward(tokens, cache, { logits: 'last' });
  return { cache };
}
const newCacheKeys = (c: KVCache) => c.layers[0]!.heads[0]!.keysInUse();

test('deleting different slots from different heads: true next position, per-head stats lengths', async () => {
  const config = smallConfig({ headCount: 4, headCountKv: 2, blockCount: 2 });
  const be = new ReferenceBackend(randomWeightSource(config, 9));
  const tokens = Int32Array.from({ length: 10 }, (_, i) => (i * 7 + 1) % config.vocabSize);
  const cache = newCache(config);
  await be.forward(tokens, cache, { logits: 'last' });
  const untouched = cache.clone();
  cache.layers[0]!.heads[0]!.retain([0, 2, 4, 6, 8, 9]);
  cache.layers[0]!.heads[1]!.removeAt(3);
  cache.layers[1]!.heads[1]!.retain([0, 1, 9]);
  const stats = { columnSums: true, window: 0, lastRow: true };
  const r = await be.forward(ids(17), cache, { logits: 'last', stats });
  assert.equal(cache.nextPosition, 11);
  assert.deepEqual(cache.layers.map((l) => l.lengths()), [[7, 10], [11, 4]]);
  for (const l of cache.layers) for (const h of l.heads) assert.equal(h.positions[h.length - 1], 10);
  assert.deepEqual([...cache.layers[1]!.heads[1]!.positions.subarray(0, 4)], [0, 1, 9, 10]);
  // query heads 0,1 read KV head 0; 2,3 read KV head 1
  assert.deepEqual(r.stats!.columnSums!.map((l) => l.map((a) => a.length)), [[7, 7, 10, 10], [11, 11, 4, 4]]);
  for (const l of r.stats!.lastRow!) for (const row of l) assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
  // the deletions change the output; retaining every slot does not
  const full = await be.forward(ids(17), untouched.clone(), { logits: 'last' });
  assert.ok(maxDiff(full.logits, r.logits) > 1e-4);
  const kept = untouched.clone();
  for (const l of kept.layers) for (const h of l.heads) h.retain(Array.from({ length: h.length }, (_, i) => i));
  const same = await be.forward(ids(17), kept, { logits: 'last' });
  assert.ok(maxDiff(full.logits, same.logits) === 0);
});

test('token ids outside the vocabulary are a clear error', async () => {
  const config = smallConfig();
  const be = new ReferenceBackend(randomWeightSource(config, 1));
  await assert.rejects(be.forward(ids(64), newCache(config), { logits: 'last' }), /outside the model's vocabulary/);
});
