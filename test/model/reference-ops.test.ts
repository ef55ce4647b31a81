import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linear, rmsNorm, silu, softmaxInPlace } from '../../src/model/reference-ops.js';

test('rmsNorm divides by the root mean square and multiplies by the weight', () => {
  const out = new Float32Array(4);
  rmsNorm(Float32Array.from([0, 1, 2, 3, 4]), 1, Float32Array.from([1, 1, 2, 0.5]), 0, out);
  const r = 1 / Math.sqrt(30 / 4);
  assert.deepEqual([...out], [1 * r, 2 * r, 3 * r * 2, 4 * r * 0.5].map(Math.fround));
  rmsNorm(Float32Array.from([0, 0]), 0, Float32Array.from([1, 1]), 1e-5, out); // eps keeps zero finite
  assert.deepEqual([...out.subarray(0, 2)], [0, 0]);
});

test('softmax: hand-computed distribution, and stable for large logits', () => {
  const row = Float64Array.from([0, Math.log(2), Math.log(3), 99]);
  softmaxInPlace(row, 3);
  assert.ok(Math.abs(row[0]! - 1 / 6) < 1e-15 && Math.abs(row[1]! - 2 / 6) < 1e-15 && Math.abs(row[2]! - 3 / 6) < 1e-15);
  assert.equal(row[3], 99, 'entries past n untouched');
  const big = Float64Array.from([1000, 1000 + Math.log(3)]);
  softmaxInPlace(big, 2);
  assert.ok(Math.abs(big[0]! - 0.25) < 1e-12 && Math.abs(big[1]! - 0.75) < 1e-12);
});

test('linear: Y = X Wᵀ + b with W [out, in]', () => {
  const w = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
  const y = linear(Float32Array.from([1, 0, 0, 0, 1, 1]), 2, w, 2, 3, Float32Array.from([10, 20]));
  assert.deepEqual([...y], [11, 24, 15, 31]);
});

test('linear: blocked rows (n = 4k + r) equal the plain dot products', () => {
  const n = 7;
  const inDim = 5;
  const outDim = 3;
  const x = Float32Array.from({ length: n * inDim }, (_, i) => Math.sin(i + 1));
  const w = Float32Array.from({ length: outDim * inDim }, (_, i) => Math.cos(i * 0.7));
  const b = Float32Array.from([0.5, -1, 2]);
  const y = linear(x, n, w, outDim, inDim, b);
  for (let t = 0; t < n; t++) {
    for (let o = 0; o < outDim; o++) {
      let s = 0;
      for (let i = 0; i < inDim; i++) s += w[o * inDim + i]! * x[t * inDim + i]!;
      assert.equal(y[t * outDim + o], Math.fround(s + b[o]!));
    }
  }
});

test('silu', () => {
  assert.equal(silu(0), 0);
  assert.ok(Math.abs(silu(1) - 1 / (1 + Math.exp(-1))) < 1e-15);
});
