import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRope, ropeInverseFrequencies } from '../../src/model/rope.js';
import { smallConfig } from '../helpers/random-model.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};
const rot = (a: number, b: number, t: number) => [a * Math.cos(t) - b * Math.sin(t), a * Math.sin(t) + b * Math.cos(t)];

test('inverse frequencies: base^(-2i/d)', () => {
  const c = smallConfig({ embeddingLength: 16, headCount: 2, headCountKv: 1 }); // headDim 8
  close(ropeInverseFrequencies(c), [1, 0.1, 0.01, 0.001], 1e-12);
});

test('normal style rotates adjacent pairs', () => {
  const c = smallConfig({ embeddingLength: 8, headCount: 2, headCountKv: 1 }); // headDim 4: invFreq [1, 0.01]
  const inv = ropeInverseFrequencies(c);
  const x = Float32Array.from([9, 1, 2, 3, 4, 9]);
  applyRope(x, 1, 3, inv, 'normal');
  close(x, [9, ...rot(1, 2, 3), ...rot(3, 4, 0.03), 9]);
});

test('neox style rotates (x[i], x[i + d/2])', () => {
  const c = smallConfig({ embeddingLength: 8, headCount: 2, headCountKv: 1 });
  const inv = ropeInverseFrequencies(c);
  const x = Float32Array.from([1, 2, 3, 4]);
  applyRope(x, 0, 3, inv, 'neox');
  const [a0, a2] = rot(1, 3, 3);
  const [a1, a3] = rot(2, 4, 0.03);
  close(x, [a0!, a1!, a2!, a3!]);
});

test('partial rotation leaves the dims past ropeDimensionCount alone', () => {
  const c = smallConfig({ embeddingLength: 8, headCount: 2, headCountKv: 1, ropeDimensionCount: 2 });
  const inv = ropeInverseFrequencies(c);
  assert.equal(inv.length, 1);
  const x = Float32Array.from([1, 2, 3, 4]);
  applyRope(x, 0, 2, inv, 'neox'); // half = 1: pair (x0, x1)
  close(x, [...rot(1, 2, 2), 3, 4]);
});

test('position 0 is the identity', () => {
  const c = smallConfig();
  const x = Float32Array.from({ length: 8 }, (_, i) => i - 3.5);
  const y = x.slice();
  applyRope(y, 0, 0, ropeInverseFrequencies(c), 'normal');
  close(y, x, 0);
});

test('linear scaling divides positions by the factor', () => {
  const c = smallConfig({ embeddingLength: 16, headCount: 2, headCountKv: 1, ropeScaling: { type: 'linear', factor: 4 } });
  close(ropeInverseFrequencies(c), [0.25, 0.025, 0.0025, 0.00025], 1e-12);
});

test('llama3 scaling: short wavelengths kept, long divided, middle blended', () => {
  const c = smallConfig({
    embeddingLength: 16,
    headCount: 2,
    headCountKv: 1,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 1000 },
  });
  // wavelengths 2π/f: 6.28, 62.8 (< 1000/4 = 250: kept), 628 (between: blended), 6283 (> 1000: divided by 8)
  const smooth = (1000 / (2 * Math.PI * 100) - 1) / (4 - 1);
  close(ropeInverseFrequencies(c), [1, 0.1, (1 - smooth) * (0.01 / 8) + smooth * 0.01, 0.001 / 8], 1e-12);
});

test('rope_freqs divisors replace the llama3 rule, linear still applies', () => {
  const base = { embeddingLength: 16, headCount: 2, headCountKv: 1 };
  const freqs = Float32Array.from([1, 2, 4, 8]);
  const l3 = smallConfig({
    ...base,
    ropeScaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContextLength: 1000 },
  });
  close(ropeInverseFrequencies(l3, freqs), [1, 0.05, 0.0025, 0.000125], 1e-12);
  const lin = smallConfig({ ...base, ropeScaling: { type: 'linear', factor: 2 } });
  close(ropeInverseFrequencies(lin, freqs), [0.5, 0.025, 0.00125, 0.0000625], 1e-12);
});
