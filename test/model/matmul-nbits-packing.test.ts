import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dequantize } from '../../src/formats/dequantize.js';
import { MATMUL_NBITS_TYPES, matMulNBitsLayout, packMatMulNBits, packedRowBytes } from '../../src/model/ort/matmul-nbits-packing.js';
import { Rng } from '../../src/util/rng.js';
import { randomBlocks } from '../helpers/random-quantized.js';

/** MatMulNBits' meaning of a packed matrix (w = s·(u − 2^(bits−1)) + offset), written out independently. */
function unpack(type: string, data: Uint8Array, scales: Float32Array, offsets: Float32Array | undefined, N: number, K: number): Float32Array {
  const l = matMulNBitsLayout(type)!;
  const out = new Float32Array(N * K);
  const Z = 2 ** (l.bits - 1);
  const rowBytes = packedRowBytes(l, K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const u = l.bits === 8 ? data[n * rowBytes + k]! : (data[n * rowBytes + (k >> 1)]! >> ((k & 1) * 4)) & 15;
      const g = n * (K / l.group) + Math.floor(k / l.group);
      out[n * K + k] = scales[g]! * (u - Z) + (offsets ? offsets[g]! : 0);
    }
  }
  return out;
}

for (const type of MATMUL_NBITS_TYPES) {
  test(`MatMulNBits packing of ${type} reproduces the dequantised matrix`, () => {
    const N = 3;
    const K = 512;
    const rng = new Rng(7);
    const bytes = randomBlocks(type, N * K, rng);
    const want = dequantize(bytes, type, N * K, type);
    const l = matMulNBitsLayout(type)!;
    // Packed into rows 2..4 of a larger target: stacking parts (fused projections) must not disturb other rows.
    const rows = N + 3;
    const data = new Uint8Array(rows * packedRowBytes(l, K)).fill(0xee);
    const scales = new Float32Array((rows * K) / l.group).fill(-1);
    const offsets = l.offset ? new Float32Array((rows * K) / l.group).fill(-1) : undefined;
    packMatMulNBits(type, bytes, N, K, { data, scales, offsets, rowOffset: 2 }, type);
    const rb = packedRowBytes(l, K);
    const got = unpack(type, data.subarray(2 * rb, (2 + N) * rb), scales.subarray((2 * K) / l.group), offsets?.subarray((2 * K) / l.group), N, K);
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(want[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(want[i]! - got[i]!));
    }
    assert.ok(maxAbs > 0.01, `${type}: degenerate weights`);
    assert.ok(maxDiff <= 1e-6 * maxAbs, `${type}: max diff ${maxDiff} (max |w| ${maxAbs})`);
    assert.ok(data.subarray(0, 2 * rb).every((b) => b === 0xee), 'rows before the target untouched');
    assert.ok(data.subarray((2 + N) * rb).every((b) => b === 0xee), 'rows after the target untouched');
  });
}

test('packing rejects a byte count that does not match the shape, naming the tensor', () => {
  const l = matMulNBitsLayout('Q4_0')!;
  const t = { data: new Uint8Array(packedRowBytes(l, 64)), scales: new Float32Array(2), rowOffset: 0 };
  assert.throws(() => packMatMulNBits('Q4_0', new Uint8Array(35), 1, 64, t, 'blk.0.attn_q.weight'), /blk\.0\.attn_q\.weight: 35 bytes .* needs 36/);
  assert.throws(() => packMatMulNBits('IQ2_XS', new Uint8Array(74), 1, 256, t, 'x'), /IQ2_XS cannot run quantised/);
});
