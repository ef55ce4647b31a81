// The writer's quantisers (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) against the dequantiser: a round trip stays within each
// format's error, hand-built blocks encode to the bytes ggml's reference quantiser gives. (Bit-exactness against native
// llama-quantize: test/bench/native-llama-cpp.test.ts, where native llama.cpp is built.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from '../../src/formats/dequantize.js';
import { QUANTIZABLE_TYPES, quantize } from '../../src/formats/quantize.js';
import { KvError } from '../../src/util/errors.js';

function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // a mix of scales across blocks (and a few all-zero blocks)
    const block = i >> 5;
    const scale = block % 7 === 3 ? 0 : 10 ** ((block % 5) - 2);
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

/** Largest allowed |x - x̂| in one block: a fraction of the block's step d (plus the f16 rounding of d and m). */
function blockBound(type: string, x: Float32Array): number {
  let min = Infinity;
  let max = -Infinity;
  let amax = 0;
  for (const v of x) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    amax = Math.max(amax, Math.abs(v));
  }
  const f16 = 2 ** -10; // relative rounding of an f16, with margin
  switch (type) {
    case 'Q8_0':
      return (amax / 127) * (0.5 + 128 * f16);
    // the value of opposite sign to the largest clamps one step short: up to one full step d
    case 'Q4_0':
      return (amax / 8) * (1 + 16 * f16);
    case 'Q5_0':
      return (amax / 16) * (1 + 32 * f16);
    case 'Q4_1':
      return ((max - min) / 15) * (0.5 + 16 * f16) + Math.abs(min) * f16;
    case 'Q5_1':
      return ((max - min) / 31) * (0.5 + 32 * f16) + Math.abs(min) * f16;
  }
  throw new Error(type);
}

for (const type of ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1']) {
  test(`${type}: quantise → dequantise stays within the format's error, block by block`, () => {
    assert.ok(QUANTIZABLE_TYPES.includes(type));
    const n = 32 * 400;
    const x = randomValues(n, 17);
    const y = dequantize(quantize(x, type), type, n);
    let sumSq = 0;
    let sumSqX = 0;
    for (let b = 0; b < n / 32; b++) {
      const xb = x.subarray(b * 32, b * 32 + 32);
      const bound = blockBound(type, xb);
      for (let j = 0; j < 32; j++) {
        const e = Math.abs(xb[j]! - y[b * 32 + j]!);
        assert.ok(e <= bound, `${type} block ${b} element ${j}: |${xb[j]} - ${y[b * 32 + j]}| = ${e} > ${bound}`);
        sumSq += e * e;
        sumSqX += xb[j]! ** 2;
      }
    }
    // and on average about a uniform rounding error (step/√12), far below the signal
    const snr = sumSqX / sumSq;
    const minSnr = { Q8_0: 1e3, Q5_0: 100, Q5_1: 100, Q4_0: 25, Q4_1: 25 }[type]!;
    assert.ok(snr > minSnr, `${type}: signal/error power ${snr.toFixed(1)} ≤ ${minSnr}`);
  });
}

test('Q4_0: a hand-built block encodes like quantize_row_q4_0_ref (d = max / -8, q = min(15, (int8)(x/d + 8.5)))', () => {
  // max magnitude -16 (negative) → d = 2; x/d + 8.5: -16 → 0.5 → 0; 16 → 16.5 → 16 → clamped 15; 3 → 10 (10.0 → 10)
  const x = new Float32Array(32);
  x[0] = -16;
  x[1] = 16;
  x[2] = 3;
  x[16] = 1; // 0.5 + 8.5 = 9
  x[17] = -0.9; // -0.45 + 8.5 = 8.05 → 8
  const q = quantize(x, 'Q4_0');
  assert.equal(q.length, 18);
  assert.equal(new DataView(q.buffer).getUint16(0, true), 0x4000); // f16 2.0
  assert.equal(q[2], 0 | (9 << 4));
  assert.equal(q[3], 15 | (8 << 4));
  assert.equal(q[4], 10 | (8 << 4));
  assert.deepEqual([...dequantize(q, 'Q4_0', 32).subarray(0, 3)], [-16, 14, 4]);
});

test('Q5_0 and Q5_1: the fifth bit goes to qh (element j → bit j)', () => {
  const x = new Float32Array(32).map((_, i) => i - 16); // -16..15
  const q50 = quantize(x, 'Q5_0'); // d = -16 / -16 = 1: q = x + 16 = 0..31
  assert.equal(new DataView(q50.buffer).getUint32(2, true), 0xffff0000);
  assert.deepEqual([...dequantize(q50, 'Q5_0', 32)], [...x]);
  const q51 = quantize(x, 'Q5_1'); // d = 31/31 = 1, m = -16
  assert.equal(new DataView(q51.buffer).getUint32(4, true), 0xffff0000);
  assert.deepEqual([...dequantize(q51, 'Q5_1', 32)], [...x]);
  const q41 = quantize(x.map((v) => v / 2 + 8), 'Q4_1'); // 0..15.5 → d = 15.5/15
  assert.ok(Math.max(...dequantize(q41, 'Q4_1', 32).map((v, i) => Math.abs(v - (x[i]! / 2 + 8)))) <= 0.52);
});

test('a length that is not whole blocks, and a type there is no quantiser for, are KvErrors naming the tensor', () => {
  assert.throws(() => quantize(new Float32Array(33), 'Q4_0', "tensor 'w'"), (e: unknown) => e instanceof KvError && /'w'.*block size 32/.test((e as Error).message));
  assert.throws(() => quantize(new Float32Array(256), 'IQ2_XXS', "tensor 'w'"), (e: unknown) => e instanceof KvError && /IQ2_XXS/.test((e as Error).message));
});
