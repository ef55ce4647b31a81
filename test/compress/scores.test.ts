import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reduceToKvHeads } from '../../src/compress/reduce-to-kv-heads.js';
import { accumulateScores, seedScores } from '../../src/compress/score-update.js';
import { prepareCompression } from '../../src/compress/compress-cache.js';
import { KVCache } from '../../src/cache/kv-cache.js';

test('GQA reduction: query heads 0,1 → KV head 0 and 2,3 → KV head 1, by mean, max or sum', () => {
  const q = [Float32Array.of(1, 4), Float32Array.of(3, 0), Float32Array.of(0.5, 0.5), Float32Array.of(1.5, 2.5)];
  assert.deepEqual(reduceToKvHeads(q, 2, 'mean').map((a) => Array.from(a)), [[2, 2], [1, 1.5]]);
  assert.deepEqual(reduceToKvHeads(q, 2, 'max').map((a) => Array.from(a)), [[3, 4], [1.5, 2.5]]);
  assert.deepEqual(reduceToKvHeads(q, 2, 'sum').map((a) => Array.from(a)), [[4, 4], [2, 3]]);
  assert.deepEqual(reduceToKvHeads(q, 1, 'mean').map((a) => Array.from(a)), [[1.5, 1.75]]);
  assert.throws(() => reduceToKvHeads(q, 3, 'mean'), /do not group/);
});

test('scores: seeded from prefill column sums, then each decode row added (GQA-reduced)', () => {
  const c = new KVCache(1, 1, 2, 4);
  const h = c.layers[0]!.heads[0]!;
  for (let t = 0; t < 3; t++) h.append(Float32Array.of(1, 0), Float32Array.of(0, 0), t);
  seedScores(c, [[Float32Array.of(1, 2, 3), Float32Array.of(3, 2, 1)]], 'mean');
  assert.deepEqual(Array.from(h.score.subarray(0, 3)), [2, 2, 2]);
  h.append(Float32Array.of(1, 0), Float32Array.of(0, 0), 3);
  accumulateScores(c, { lastRow: [[Float32Array.of(0.5, 0, 0, 0.5), Float32Array.of(0.25, 0.25, 0.25, 0.25)]] }, 'max');
  assert.deepEqual(Array.from(h.score.subarray(0, 4)), [2.5, 2.25, 2.25, 0.5]);
  // prepareCompression seeds with the method's gqaReduce before compressing
  const c2 = new KVCache(1, 1, 2, 4);
  for (let t = 0; t < 4; t++) c2.layers[0]!.heads[0]!.append(Float32Array.of(1, t), Float32Array.of(0, 0), t);
  const prep = prepareCompression({ method: 'h2o', options: ['gqaReduce=sum'], budget: { ratio: 1 }, promptLength: 4 });
  prep.compress(c2, { columnSums: [[Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 1, 1, 1)]] });
  assert.deepEqual(Array.from(c2.layers[0]!.heads[0]!.score.subarray(0, 4)), [2, 3, 4, 5]);
  assert.deepEqual(prep.aggregatedAttention(c2, { columnSums: [[Float32Array.of(1, 2, 3, 4), Float32Array.of(1, 1, 1, 1)]] }), [[[2, 3, 4, 5]]]);
});
