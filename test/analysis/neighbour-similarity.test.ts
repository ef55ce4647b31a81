import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KVCache } from '../../src/cache/kv-cache.js';
import { neighbourSimilarity } from '../../src/analysis/neighbour-similarity.js';

const close = (a: number, b: number, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

/**
 * One layer, two KV heads. Keys rotate by θ per token in a plane (so δ at offset d is cos(dθ) exactly, and ±1 is
 * always the most similar neighbour); values alternate between two orthogonal directions (δ = 0 at odd offsets,
 * 1 at even ones, so the nearest neighbour is never adjacent).
 */
function rotatingCache(T: number, theta: number): KVCache {
  const c = new KVCache(1, 2, 2, T);
  for (const [h, head] of c.layers[0]!.heads.entries()) {
    for (let t = 0; t < T; t++) {
      const a = t * theta + h; // a per-head phase does not change any cosine
      const k = Float32Array.from([Math.cos(a), Math.sin(a)]);
      const v = t % 2 === 0 ? Float32Array.from([3, 0]) : Float32Array.from([0, 5]);
      head.append(k, v, t);
    }
  }
  return c;
}

test('keys rotating by θ: mean cosine at offset d is cos(dθ), nearest neighbour adjacent', () => {
  const theta = 0.1;
  const [layer] = neighbourSimilarity([rotatingCache(40, theta)], 'keys', 4);
  assert.equal(layer!.offsets.length, 4);
  for (const s of layer!.offsets) {
    close(s.mean, Math.cos(s.offset * theta));
    close(s.std, 0);
    assert.equal(s.n, 2 * (40 - s.offset)); // both heads, every pair at this offset
    assert.equal(s.perHeadMean.length, 2);
    close(s.perHeadMean[1]!, Math.cos(s.offset * theta));
  }
  assert.equal(layer!.offsets[0]!.aboveThreshold, 1); // cos 0.1 > 0.9
  assert.equal(layer!.nearestIsAdjacent, 1);
});

test('alternating orthogonal values: 0 at odd offsets, 1 at even, nearest never adjacent', () => {
  const [layer] = neighbourSimilarity([rotatingCache(20, 0.1), rotatingCache(12, 0.1)], 'values', 3);
  close(layer!.offsets[0]!.mean, 0);
  close(layer!.offsets[1]!.mean, 1);
  close(layer!.offsets[2]!.mean, 0);
  assert.equal(layer!.offsets[0]!.n, 2 * 19 + 2 * 11); // two caches pooled
  assert.equal(layer!.nearestIsAdjacent, 0);
});
