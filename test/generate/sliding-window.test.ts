/**
 * Sliding-window layers in a session: slots a sliding layer can no longer see are dropped (the cache bounded by the
 * window, the text unchanged), compression sees only the global layers unless `compression.slidingLayers`, and byte
 * counts follow the slots actually held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import { dropOutsideWindow, globalLayerIndices, layersView, selectStatsLayers } from '../../src/cache/sliding-window.js';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { generate } from '../../src/generate/session.js';
import type { SessionModel } from '../../src/generate/session-model.js';
import { argmax } from '../../src/generate/sampler.js';
import { chunkedPrefill } from '../../src/generate/chunked-prefill.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';

const W = 6;
function gemmaLike(): SessionModel {
  const config = smallConfig({
    architecture: 'gemma2', contextLength: 128, blockCount: 3, embeddingScale: Math.sqrt(32), ffnActivation: 'gelu', postNorms: true,
    attnLogitSoftcap: 10, finalLogitSoftcap: 20, slidingWindow: { size: W, layers: [true, false, true] }, ropeLocal: { freqBase: 10000, scaling: { type: 'none' } },
  });
  return { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, 7, { scale: 2 })) };
}

test('dropOutsideWindow removes exactly the slots no future query sees, only in sliding layers, and only past the slack', () => {
  const cache = new KVCache(2, 1, 2);
  for (const layer of cache.layers) for (let p = 0; p < 10; p++) layer.heads[0]!.append(Float32Array.of(p, p), Float32Array.of(-p, -p), p);
  cache.nextPosition = 10;
  const sliding = { size: 4, layers: [true, false] };
  // the next query (position 10) sees 7, 8, 9, 10: positions 0..6 are dead
  assert.equal(dropOutsideWindow(cache, sliding, 8), 0, 'fewer dead than the slack: kept');
  assert.equal(dropOutsideWindow(cache, sliding), 7);
  assert.deepEqual(Array.from(cache.layers[0]!.heads[0]!.positions.subarray(0, 3)), [7, 8, 9]);
  assert.deepEqual(Array.from(cache.layers[0]!.heads[0]!.key(0)), [7, 7]);
  assert.equal(cache.layers[1]!.heads[0]!.length, 10, 'global layer untouched');
  assert.equal(cache.bytes(), (3 + 10) * 2 * 2 * 4);
  const only = globalLayerIndices(sliding, 2);
  assert.deepEqual(only, [1]);
  const v = layersView(cache, only);
  assert.equal(v.layers[0], cache.layers[1]);
  assert.equal(v.nextPosition, 10);
  const stats = selectStatsLayers({ columnSums: [[Float32Array.of(1)], [Float32Array.of(2)]] }, only)!;
  assert.deepEqual(stats.columnSums, [[Float32Array.of(2)]]);
});

test('a session drops out-of-window slots of sliding layers without changing the greedy text', async () => {
  const m = gemmaLike();
  const r = await generate(m, { prompt: 'abcdefghijklmnopqrst', maxTokens: 12, stopAtEos: false, sampling: { temperature: 0 }, chunkSize: 8 });
  // the same greedy loop by hand, on a cache that is never trimmed
  const cache = new KVCache(3, m.config.headCountKv, m.config.headDim);
  let logits = (await m.backend.forward(Int32Array.from(r.promptTokens), cache, { logits: 'last' })).logits;
  const tokens: number[] = [];
  for (let i = 0; i < 12; i++) {
    const next = argmax(logits);
    tokens.push(next);
    if (i < 11) logits = (await m.backend.forward(Int32Array.of(next), cache, { logits: 'last' })).logits;
  }
  assert.deepEqual(r.tokens, tokens);
  const T = r.promptTokens.length + 11;
  assert.equal(r.kvCache.nextPosition, T);
  const lengths = r.kvCache.layers.map((l) => l.heads[0]!.length);
  assert.equal(lengths[1], T, 'the global layer holds every position');
  for (const l of [0, 2]) assert.ok(lengths[l]! >= W - 1 && lengths[l]! < W + 64, `sliding layer ${l} holds ${lengths[l]} slots`);
  assert.equal(r.cache.bytes, r.kvCache.bytes());
  assert.ok(r.cache.bytes < 3 * T * m.config.headCountKv * m.config.headDim * 2 * 4);
});

test('compression sees the global layers only by default; slidingLayers lets it compress the sliding ones', async () => {
  const m = gemmaLike();
  const compression = { method: 'h2o', options: [], budget: { tokens: 4, per: 'layer' as const } };
  const prompt = 'abcdefghijklmnopqrst';
  const def = await generate(m, { prompt, maxTokens: 1, stopAtEos: false, compression });
  const report = def.compression!;
  assert.equal(report.slotsPerLayer.length, 1, 'the report covers the compressed (global) layer');
  assert.deepEqual(def.kvCache.layers.map((l) => l.heads[0]!.length), [W - 1, 4, W - 1]);
  const all = await generate(m, { prompt, maxTokens: 1, stopAtEos: false, compression: { ...compression, slidingLayers: true } });
  const lengths = all.kvCache.layers.map((l) => l.heads[0]!.length);
  assert.equal(lengths[1], 4);
  for (const l of [0, 2]) assert.ok(lengths[l]! <= 4, `sliding layer ${l} compressed to ${lengths[l]}`);
});

test('a prefill without statistics keeps sliding layers within window + chunk, allocated and held, with the same logits', async () => {
  const m = gemmaLike();
  const ids = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % m.config.vocabSize);
  const p = await chunkedPrefill(m, ids, undefined, 0, 8);
  const plain = new KVCache(3, m.config.headCountKv, m.config.headDim);
  const want = (await m.backend.forward(Int32Array.from(ids), plain, { logits: 'last' })).logits;
  assert.deepEqual(Array.from(p.lastLogits!).map((v) => +v.toFixed(4)), Array.from(want).map((v) => +v.toFixed(4)));
  for (const l of [0, 2]) {
    for (const h of p.cache.layers[l]!.heads) {
      assert.ok(h.length <= W + 8, `sliding layer ${l} holds ${h.length}`);
      assert.ok(h.capacity <= W + 8 + 8, `sliding layer ${l} allocated ${h.capacity}`);
    }
  }
  assert.equal(p.cache.layers[1]!.heads[0]!.length, 40);
  // with statistics asked for, every slot stays (they are added up by slot index)
  const s = await chunkedPrefill(m, ids, { columnSums: true, window: 0, lastRow: false }, 0, 8);
  assert.equal(s.cache.layers[0]!.heads[0]!.length, 40);
  assert.equal(s.stats!.columnSums![0]![0]!.length, 40);
});
