import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosineMatrix, offsetCosines } from '../../src/analysis/cosine-similarity.js';
import { rowNorms } from '../../src/compress/row-norms.js';
import { summarizeSimilarity } from '../../src/analysis/similarity-summary.js';
import { describeValues, quantileSorted, shareAbove } from '../../src/analysis/describe-values.js';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

test('identical vectors: every cosine is 1', () => {
  const v = Float32Array.from([1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]); // 4 × 3
  const m = cosineMatrix(v, 4, 3);
  for (const x of m) close(x, 1);
  const s = summarizeSimilarity(m, 4, { nearWindow: 1 });
  close(s.adjacent!.mean, 1);
  assert.equal(s.adjacentAboveThreshold, 1);
  assert.equal(s.offDiagonalAboveThreshold, 1);
  close(s.meanFar, 1);
  // Ties go to the nearer token: every token's nearest is adjacent.
  assert.equal(s.nearestIsAdjacent, 1);
});

test('orthogonal vectors: cosine 0 off the diagonal, 1 on it', () => {
  const n = 4;
  const v = new Float32Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 2 + i; // scaled basis vectors
  const m = cosineMatrix(v, n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) close(m[i * n + j]!, i === j ? 1 : 0);
  const s = summarizeSimilarity(m, n);
  close(s.adjacent!.mean, 0);
  assert.equal(s.adjacentAboveThreshold, 0);
  close(s.meanOffDiagonal, 0);
});

test('hand-computed cosines, offsets and a zero vector', () => {
  // rows: [1,0], [1,1], [0,1], [0,0]
  const v = Float32Array.from([1, 0, 1, 1, 0, 1, 0, 0]);
  const m = cosineMatrix(v, 4, 2);
  const h = Math.SQRT1_2;
  const want = [
    [1, h, 0, 0],
    [h, 1, h, 0],
    [0, h, 1, 0],
    [0, 0, 0, 0], // a zero vector has cosine 0 with everything, itself included
  ];
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) close(m[i * 4 + j]!, want[i]![j]!);
  assert.deepEqual(Array.from(rowNorms(v, 4, 2)).map((x) => +x.toFixed(6)), [1, +Math.SQRT2.toFixed(6), 1, 0]);
  const o1 = offsetCosines(v, 4, 2, 1);
  assert.equal(o1.length, 3);
  close(o1[0]!, h);
  close(o1[1]!, h);
  close(o1[2]!, 0);
  const o2 = offsetCosines(v, 4, 2, 2);
  assert.deepEqual(Array.from(o2), [0, 0]);
  assert.throws(() => offsetCosines(v, 4, 2, 0), RangeError);
  // Summary: adjacent pairs (h, h, 0); threshold 0.5 → 2 of 3.
  const s = summarizeSimilarity(m, 4, { threshold: 0.5, nearWindow: 1 });
  close(s.adjacent!.mean, (2 * h) / 3);
  close(s.adjacentAboveThreshold, 2 / 3);
  // Far pairs (|i−j| > 1): (0,2),(0,3),(1,3) both ways: all 0.
  close(s.meanFar, 0);
});

test('describeValues: mean, population std, quantiles', () => {
  const d = describeValues([4, 1, 3, 2, NaN])!;
  assert.equal(d.n, 4);
  close(d.mean, 2.5);
  close(d.std, Math.sqrt(1.25));
  assert.equal(d.min, 1);
  assert.equal(d.max, 4);
  close(d.median, 2.5);
  close(d.p10, 1.3); // numpy.percentile([1,2,3,4], 10) = 1.3
  close(quantileSorted([1, 2, 3, 4], 0.9), 3.7);
  assert.equal(describeValues([]), null);
  close(shareAbove([0.95, 0.9, 0.1, 1], 0.9), 0.5);
});
