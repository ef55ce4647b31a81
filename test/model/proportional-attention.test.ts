/**
 * Proportional attention (HeadCache.proportional): both backends add log(mass_j) to slot j's attention logit. Checked
 * ort against the reference on random models with random masses, and by hand: one slot of mass 2 attends exactly
 * as two copies of it with mass 1.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { StatsRequest } from '../../src/cache/attention-stats.js';
import type { ForwardBackend } from '../../src/model/backend.js';
import type { ModelConfig } from '../../src/core/model-config.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { createOrtBackend } from '../../src/model/ort-backend.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';

const open: ForwardBackend[] = [];
after(async () => {
  for (const b of open) await b.dispose();
});

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(a[i]!));
  }
  assert.ok(s > 0.1, 'degenerate logits');
  return d / s;
}

const toks = (n: number, vocab: number, seed: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + ((i * i) % 5)) % vocab);

/** Seeded masses in [1, 6) (a few exactly 1), the same for both caches. */
function setMasses(caches: KVCache[], seed: number): void {
  let x = seed * 2654435761 >>> 0;
  const next = () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const layers = caches[0]!.layers;
  layers.forEach((layer, l) =>
    layer.heads.forEach((head, h) => {
      for (let j = 0; j < head.length; j++) {
        const m = next() < 0.3 ? 1 : 1 + 5 * next();
        for (const c of caches) {
          const hc = c.layers[l]!.heads[h]!;
          hc.mass[j] = m;
          hc.proportional = true;
        }
      }
    }),
  );
}

const SHAPES: { name: string; config: ModelConfig }[] = [
  { name: 'llama, GQA 2', config: smallConfig({ headCount: 4, headCountKv: 2 }) },
  { name: 'qwen2, GQA 4, partial RoPE', config: smallConfig({ architecture: 'qwen2', embeddingLength: 64, headCount: 8, headCountKv: 2, tiedEmbeddings: true, ropeDimensionCount: 4 }) },
  {
    name: 'gemma2 (soft-capped logits: the log-mass is added after the cap; sliding window)',
    config: smallConfig({
      architecture: 'gemma2', blockCount: 3, tiedEmbeddings: true, embeddingScale: Math.sqrt(32), ffnActivation: 'gelu', postNorms: true, attentionScale: 0.3,
      attnLogitSoftcap: 3, finalLogitSoftcap: 4, slidingWindow: { size: 6, layers: [true, false, true] }, ropeLocal: { freqBase: 10000, scaling: { type: 'none' } },
    }),
  },
];

const stats: StatsRequest = { columnSums: true, window: 0, lastRow: true };

for (const [i, s] of SHAPES.entries()) {
  test(`proportional attention, ort matches reference: ${s.name}`, async () => {
    const w = randomWeightSource(s.config, 31 + i);
    const ref = new ReferenceBackend(w);
    const fast = await createOrtBackend(w, { threads: 1 });
    open.push(fast);
    const mk = () => new KVCache(s.config.blockCount, s.config.headCountKv, s.config.headDim);
    const rc = mk();
    const fc = mk();
    const plain = mk();
    await ref.forward(toks(10, s.config.vocabSize, i), rc, { logits: 'last' });
    await fast.forward(toks(10, s.config.vocabSize, i), fc, { logits: 'last' });
    await ref.forward(toks(10, s.config.vocabSize, i), plain, { logits: 'last' });
    setMasses([rc, fc], 5 + i);
    for (let d = 0; d < 3; d++) {
      const t = Int32Array.of((d * 17 + i) % s.config.vocabSize, (d * 5 + 3) % s.config.vocabSize);
      const a = await ref.forward(t, rc, { logits: 'all', stats });
      const b = await fast.forward(t, fc, { logits: 'all', stats });
      const p = await ref.forward(t, plain, { logits: 'all', stats });
      assert.ok(maxRelDiff(a.logits, b.logits) <= 1e-4, `step ${d}: ort vs reference ${maxRelDiff(a.logits, b.logits)}`);
      assert.ok(maxRelDiff(a.logits, p.logits) > 1e-3, `step ${d}: the masses change the logits`);
      a.stats!.columnSums!.forEach((layer, l) =>
        layer.forEach((row, q) => row.forEach((x, j) => assert.ok(Math.abs(x - b.stats!.columnSums![l]![q]![j]!) <= 1e-5 * Math.max(1, Math.abs(x)), `stats ${l} ${q} ${j}`))),
      );
    }
    // all masses 1 again: the same logits as the same cache without the flag, in both backends
    for (const c of [rc, fc]) for (const layer of c.layers) for (const h of layer.heads) h.mass.fill(1, 0, h.length);
    for (const [be, c] of [[ref, rc], [fast, fc]] as const) {
      const off = c.clone();
      for (const layer of off.layers) for (const h of layer.heads) h.proportional = false;
      const a = await be.forward(Int32Array.of(3), c, { logits: 'last' });
      const p = await be.forward(Int32Array.of(3), off, { logits: 'last' });
      assert.deepEqual(Array.from(a.logits), Array.from(p.logits), be.name);
    }
  });
}

test('proportional attention by hand: one slot of mass 2 attends as two copies of it (both backends)', async () => {
  const config = smallConfig({ headCount: 4, headCountKv: 2, blockCount: 1 });
  const w = randomWeightSource(config, 77);
  const backends: ForwardBackend[] = [new ReferenceBackend(w), await createOrtBackend(w, { threads: 1 })];
  open.push(backends[1]!);
  for (const be of backends) {
    const dup = new KVCache(1, config.headCountKv, config.headDim);
    const merged = new KVCache(1, config.headCountKv, config.headDim);
    await be.forward(toks(6, config.vocabSize, 1), dup, { logits: 'last' });
    await be.forward(toks(6, config.vocabSize, 1), merged, { logits: 'last' });
    // dup: slot 2 is duplicated (a second copy at the same position); merged: slot 2 has mass 2
    for (const h of dup.layers[0]!.heads) {
      const keep = [0, 1, 2, 2, 3, 4, 5];
      const k = Float32Array.from(keep.flatMap((j) => Array.from(h.key(j))));
      const v = Float32Array.from(keep.flatMap((j) => Array.from(h.value(j))));
      const pos = keep.map((j) => h.positions[j]!);
      h.length = 0;
      keep.forEach((_, i) => h.append(k, v, pos[i]!, i * config.headDim));
    }
    for (const h of merged.layers[0]!.heads) {
      h.proportional = true;
      h.mass[2] = 2;
    }
    const a = await be.forward(Int32Array.of(9), dup, { logits: 'last', stats: { columnSums: true, window: 0, lastRow: false } });
    const b = await be.forward(Int32Array.of(9), merged, { logits: 'last', stats: { columnSums: true, window: 0, lastRow: false } });
    assert.ok(maxRelDiff(a.logits, b.logits) <= 1e-5, `${be.name}: ${maxRelDiff(a.logits, b.logits)}`);
    // the merged slot receives the attention of both copies
    const ca = a.stats!.columnSums![0]![0]!;
    const cb = b.stats!.columnSums![0]![0]!;
    assert.ok(Math.abs(ca[2]! + ca[3]! - cb[2]!) < 1e-5, `${be.name}: column sum of the merged slot`);
    // the mass is counted in bytes() while proportional: 4 bytes a slot
    const h0 = merged.layers[0]!.heads[0]!;
    assert.equal(h0.bytes(), h0.length * (config.headDim * 2 * 4 + 4));
  }
});

test('an ort backend built without log-mass inputs refuses a proportional cache', async () => {
  const config = smallConfig({ headCount: 4, headCountKv: 2, blockCount: 1 });
  const fast = await createOrtBackend(randomWeightSource(config, 78), { threads: 1, logMass: false });
  open.push(fast);
  const c = new KVCache(1, config.headCountKv, config.headDim);
  await fast.forward(toks(4, config.vocabSize, 2), c, { logits: 'last' });
  c.layers[0]!.heads[1]!.proportional = true;
  c.layers[0]!.heads[1]!.mass[0] = 3;
  await assert.rejects(fast.forward(Int32Array.of(1), c, { logits: 'last' }), /log-mass/);
});

test('kvmerger-prop end to end: a compressed proportional cache decodes alike in ort and the reference', async () => {
  const { prepareCompression } = await import('../../src/compress/compress-cache.js');
  const config = smallConfig({ headCount: 4, headCountKv: 2, blockCount: 2 });
  const w = randomWeightSource(config, 91);
  const ref = new ReferenceBackend(w);
  const fast = await createOrtBackend(w, { threads: 1 });
  open.push(fast);
  const T = 24;
  const rc = new KVCache(config.blockCount, config.headCountKv, config.headDim);
  const prep = prepareCompression({ method: 'kvmerger-prop', budget: { ratio: 0.5 }, promptLength: T, seed: 0, reserveSlots: 4 });
  const pre = await ref.forward(toks(T, config.vocabSize, 3), rc, { logits: 'last', stats: prep.statsRequest });
  prep.compress(rc, pre.stats!);
  assert.ok(rc.layers.every((l) => l.heads.every((h) => h.proportional)), 'heads flagged');
  assert.ok(rc.layers.some((l) => l.heads.some((h) => h.massBiased())), 'some slot stands for several tokens');
  const fc = rc.clone(4);
  for (let d = 0; d < 4; d++) {
    const t = Int32Array.of((d * 11 + 2) % config.vocabSize);
    const a = await ref.forward(t, rc, { logits: 'last' });
    const b = await fast.forward(t, fc, { logits: 'last' });
    assert.ok(maxRelDiff(a.logits, b.logits) <= 1e-4, `step ${d}: ${maxRelDiff(a.logits, b.logits)}`);
  }
});
