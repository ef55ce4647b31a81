import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { headMergeResult, layerMergeRatios } from '../../src/analysis/merge-ratios.js';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { reduceLayers } from '../../src/compress/reduce-to-kv-heads.js';
import { faithfulShares } from '../../src/compress/methods/kvmerger/index.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

function cacheFrom(keys: number[][], values: number[][]): KVCache {
  const c = new KVCache(1, 1, keys[0]!.length, keys.length);
  keys.forEach((k, t) => c.layers[0]!.heads[0]!.append(Float32Array.from(k), Float32Array.from(values[t]!), t));
  return c;
}

test('identical keys merge into one slot (ratio 1/T); orthogonal values keep every slot', () => {
  const T = 6;
  const keys = Array.from({ length: T }, () => [1, 2, 0]);
  const values = Array.from({ length: T }, (_, t) => [t % 3 === 0 ? 1 : 0, t % 3 === 1 ? 1 : 0, t % 3 === 2 ? 1 : 0]);
  const c = cacheFrom(keys, values);
  const k = layerMergeRatios(c, 'keys', { epsilon: 0.75 });
  close(k.keptRatio[0]!, 1 / T);
  assert.deepEqual(k.heads[0]![0], { slots: T, kept: 1, sets: 1, reserved: 0 });
  const v = layerMergeRatios(c, 'values', { epsilon: 0.75 });
  close(v.keptRatio[0]!, 1);
});

test('hand-made runs: strict threshold, reserved recent tokens cut the run', () => {
  // cosines between neighbours: [1, 1, 0, 1, 1] → sets {0,1,2} and {3,4,5}: kept 2 of 6
  const keys = [[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1]];
  const r = headMergeResult(Float32Array.from(keys.flat()), 6, 2, 0.75, new Uint8Array(6));
  assert.deepEqual(r, { slots: 6, kept: 2, sets: 2, reserved: 0 });
  // Exactly at the threshold does not merge (δ > ε is strict).
  assert.equal(headMergeResult(Float32Array.from(keys.flat()), 6, 2, 1, new Uint8Array(6)).kept, 6);
  // ⌈0.34 · 6⌉ = 3 most recent reserved: the second run is not merged → kept 1 + 3.
  const c = cacheFrom(keys, keys);
  const k = layerMergeRatios(c, 'keys', { epsilon: 0.75, recentRatio: 0.34 });
  close(k.keptRatio[0]!, 4 / 6);
  assert.equal(k.heads[0]![0]!.reserved, 3);
  assert.throws(() => layerMergeRatios(c, 'keys', { epsilon: 0.75, attnRatio: 0.1 }), /attention/);
});

function randomCache(layers: number, kvHeads: number, dim: number, T: number, seed: number): KVCache {
  const rng = new Rng(seed);
  const c = new KVCache(layers, kvHeads, dim, T);
  for (const [l, layer] of c.layers.entries()) {
    for (const head of layer.heads) {
      const base = Array.from({ length: dim }, () => rng.normal());
      const drift = 0.2 + 0.3 * l; // later layers drift faster: different ratios per layer
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < dim; i++) base[i] = base[i]! * 0.9 + rng.normal() * drift;
        head.append(Float32Array.from(base), Float32Array.from({ length: dim }, () => rng.normal()), t);
      }
    }
  }
  return c;
}

test("the ratios equal what KVMerger's faithful mode keeps (reserved shares and attention included)", () => {
  const L = 3;
  const kv = 2;
  const qHeads = 4;
  const T = 60;
  const cache = randomCache(L, kv, 8, T, 5);
  const rng = new Rng(9);
  const stats: AttentionStats = {
    columnSums: Array.from({ length: L }, () => Array.from({ length: qHeads }, () => Float32Array.from({ length: T }, () => rng.next() * 3))),
  };
  for (const budget of [0.5, 0.35]) {
    for (const epsilon of [0.5, 0.75]) {
      const shares = faithfulShares(budget);
      const mine = layerMergeRatios(cache, 'keys', {
        epsilon,
        recentRatio: Math.round(shares.recentRatio * 1e6) / 1e6,
        attnRatio: Math.round(shares.attnRatio * 1e6) / 1e6,
        attention: reduceLayers(stats.columnSums!, [kv, kv, kv], 'mean'),
      });
      const compressed = cache.clone();
      const report = prepareCompression({ method: 'kvmerger', options: { budgetMode: 'faithful', epsilon }, budget: { ratio: budget }, promptLength: T }).compress(compressed, stats);
      assert.deepEqual(
        mine.keptRatio.map((r) => Math.round(r * T * kv)),
        report.slotsPerLayer,
        `budget ${budget}, epsilon ${epsilon}`,
      );
    }
  }
  // Without reserved tokens, the ratio only falls as epsilon falls.
  const hi = layerMergeRatios(cache, 'keys', { epsilon: 0.9 }).keptRatio;
  const lo = layerMergeRatios(cache, 'keys', { epsilon: 0.5 }).keptRatio;
  hi.forEach((r, l) => assert.ok(lo[l]! <= r));
});
