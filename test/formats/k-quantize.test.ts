/**
 * The K-quant encoders (Q4_K, Q5_K, Q6_K in src/formats/quantize.ts, ggml's quantize_row_*_ref without an importance
 * matrix) round-tripped through the project's dequantiser (bit-identical to gguf-py's): the errors are those of 4, 5
 * and 6 bits per weight, codes use their whole range, all-zero blocks stay zero, and the bytes have the block sizes.
 */
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from '../../src/formats/dequantize.js';
import { quantize } from '../../src/formats/quantize.js';
import { Rng } from '../../src/util/rng.js';

const SIZES: Record<string, number> = { Q4_K: 144, Q5_K: 176, Q6_K: 210 };
/** Bound on the RMS error relative to the values' RMS (about 2^-bits · a few). */
const RMS_BOUND: Record<string, number> = { Q4_K: 0.12, Q5_K: 0.06, Q6_K: 0.03 };

function values(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * (i % 256 < 128 ? 0.02 : 1) + (i % 512 < 256 ? 0.5 : 0);
  return x;
}

for (const type of ['Q4_K', 'Q5_K', 'Q6_K']) {
  test(`${type}: quantise → dequantise keeps values within ${type}'s error, block by block`, () => {
    const n = 256 * 12;
    const x = values(n, 7);
    const q = quantize(x, type);
    assert.equal(q.byteLength, (n / 256) * SIZES[type]!);
    const y = dequantize(q, type, n);
    for (let b = 0; b < n / 256; b++) {
      let se = 0;
      let sx = 0;
      let amax = 0;
      for (let i = b * 256; i < (b + 1) * 256; i++) {
        se += (x[i]! - y[i]!) ** 2;
        sx += x[i]! ** 2;
        amax = Math.max(amax, Math.abs(x[i]!));
      }
      const rel = Math.sqrt(se / sx);
      assert.ok(rel < RMS_BOUND[type]!, `${type} block ${b}: relative RMS error ${rel}`);
      for (let i = b * 256; i < (b + 1) * 256; i++) assert.ok(Math.abs(x[i]! - y[i]!) <= amax / 4, `${type} element ${i}`);
    }
  });

  test(`${type}: zeros stay zero, a constant block is close, a non-multiple of 256 is refused`, () => {
    // (Q6_K decodes an all-zero block as d·s·(0 − 32) = −0, as ggml does)
    assert.ok(dequantize(quantize(new Float32Array(512), type), type, 512).every((v) => v === 0));
    const c = new Float32Array(256).fill(-0.75);
    const y = dequantize(quantize(c, type), type, 256);
    for (const v of y) assert.ok(Math.abs(v + 0.75) < 0.01, `${type}: ${v}`);
    assert.throws(() => quantize(new Float32Array(96), type, 't'), /multiple of the .* block size 256/);
  });
}

test('Q4_K / Q6_K beat the 32-block types of the same bits on the same values (their extra scales help)', () => {
  const x = values(256 * 8, 9);
  const err = (t: string) => {
    const y = dequantize(quantize(x, t), t, x.length);
    let s = 0;
    for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
    return s;
  };
  assert.ok(err('Q4_K') < err('Q4_0'), 'Q4_K vs Q4_0');
  assert.ok(err('Q6_K') < err('Q5_0'), 'Q6_K vs Q5_0');
});

test("K-quant bytes are ggml's: SHA-256 of quantize_row_q{4,5,6}_K_ref's output (compiled from llama.cpp's bundled ggml-quants.c) on fixed values", () => {
  // 16 blocks: normal values of two scales, offsets, outliers every 1024, one all-zero block
  const n = 256 * 16;
  const rng = new Rng(21);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * (i % 256 < 128 ? 0.02 : 1) + (i % 512 < 256 ? 0.5 : 0) + (i % 1024 < 16 ? 3 : 0);
  x.fill(0, 256 * 5, 256 * 6);
  const expected: Record<string, string> = {
    Q4_K: '80f7f27014e862c2d5d8a5352f7eac44855cac2cf5c0bbc2a367fdd1363a25af',
    Q5_K: 'ceb2f01e71f44a6578766c701b0428716a7390e3ca92c9f2e3e8872f2e8d2049',
    Q6_K: '8313b3b23b517b76b00d03ce1716e81cd4331ec11a886965e6e317f45e66ca6b',
  };
  for (const [type, hash] of Object.entries(expected)) {
    assert.equal(createHash('sha256').update(quantize(x, type)).digest('hex'), hash, type);
  }
});
