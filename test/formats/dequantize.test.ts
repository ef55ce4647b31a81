// Dequantisation: hand-built blocks whose decoded values are computed by hand from the ggml block definitions, and the
// reference fixtures (gguf-py's quants.py output) in ../shared/data/gguf-fixtures, which must match bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dequantize, DEQUANTIZABLE_TYPES } from '../../src/formats/dequantize.js';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { KvError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/shared-data.js';

// f16 bit patterns used below.
const H = { q: 0x3400 /* 0.25 */, half: 0x3800 /* 0.5 */, one: 0x3c00, two: 0x4000, m1: 0xbc00 /* -1 */, ten: 0x4900 };

function block(size: number, fill: (b: Uint8Array, dv: DataView) => void): Uint8Array {
  const b = new Uint8Array(size);
  fill(b, new DataView(b.buffer));
  return b;
}

function expectAll(got: Float32Array, n: number, def: (i: number) => number, special: Record<number, number>): void {
  assert.equal(got.length, n);
  for (let i = 0; i < n; i++) {
    const want = i in special ? special[i]! : def(i);
    assert.equal(got[i], want, `element ${i}: got ${got[i]}, want ${want}`);
  }
}

test('F32, F16, BF16 decode exact values', () => {
  const f32 = new Float32Array([1.5, -0, 3.25e-8, Infinity]);
  assert.deepEqual(dequantize(new Uint8Array(f32.buffer), 'F32', 4), f32);
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555, 0x7bff, 0x8400]);
  assert.deepEqual(
    [...dequantize(new Uint8Array(f16.buffer), 'F16', 7)],
    [1, -2, 2 ** -24, Infinity, 0.333251953125, 65504, -(2 ** -14)],
  );
  const bf = new Uint16Array([0x3f80, 0xc0a0, 0x0001]);
  assert.deepEqual([...dequantize(new Uint8Array(bf.buffer), 'BF16', 3)], [1, -5, 2 ** -133]);
});

test('Q8_0: d * q', () => {
  const b = block(34, (b, dv) => {
    dv.setUint16(0, H.half, true);
    dv.setInt8(2, -128);
    dv.setInt8(3, -1);
    dv.setInt8(5, 1);
    dv.setInt8(6, 127);
  });
  expectAll(dequantize(b, 'Q8_0', 32), 32, () => 0, { 0: -64, 1: -0.5, 3: 0.5, 4: 63.5 });
});

test('Q4_0: low nibbles are elements 0..15, high nibbles 16..31, (q - 8) * d', () => {
  const b = block(18, (b, dv) => {
    dv.setUint16(0, H.two, true);
    b.fill(0x88, 2);
    b[2] = 0x9f; // el 0: 15 → 14; el 16: 9 → 2
    b[17] = 0x01; // el 15: 1 → -14; el 31: 0 → -16
  });
  expectAll(dequantize(b, 'Q4_0', 32), 32, () => 0, { 0: 14, 16: 2, 15: -14, 31: -16 });
});

test('Q4_1: q * d + m', () => {
  const b = block(20, (b, dv) => {
    dv.setUint16(0, H.half, true);
    dv.setUint16(2, H.m1, true);
    for (let j = 0; j < 16; j++) b[4 + j] = j | ((15 - j) << 4);
  });
  expectAll(dequantize(b, 'Q4_1', 32), 32, (i) => (i < 16 ? i * 0.5 - 1 : (31 - i) * 0.5 - 1), {});
});

test('Q5_0: bit j of qh is the fifth bit of element j, (q - 16) * d', () => {
  const b = block(22, (b, dv) => {
    dv.setUint16(0, H.one, true);
    dv.setUint32(2, 0x00010001, true); // el 0 and el 16
    b[6] = 0x21; // el 0: 1|16 → 1; el 16: 2|16 → 2
  });
  expectAll(dequantize(b, 'Q5_0', 32), 32, () => -16, { 0: 1, 16: 2 });
});

test('Q5_1: q * d + m with the fifth bit', () => {
  const b = block(24, (b, dv) => {
    dv.setUint16(0, H.q, true);
    dv.setUint16(2, H.ten, true);
    dv.setUint32(4, 0x80000002, true); // el 1 and el 31
    b[8 + 1] = 0x34; // el 1: 4|16 = 20 → 15; el 17: 3 → 10.75
    b[8 + 15] = 0x70; // el 15: 0 → 10; el 31: 7|16 = 23 → 15.75
  });
  expectAll(dequantize(b, 'Q5_1', 32), 32, () => 10, { 1: 15, 17: 10.75, 31: 15.75 });
});

test('Q2_K: 2-bit values, 4-bit scale and min per group of 16', () => {
  const b = block(84, (b, dv) => {
    b[0] = 0x21; // group 0 (el 0..15): sc 1, m 2
    b[2] = 0x03; // group 2 (el 32..47): sc 3
    b[4] = 0x15; // group 4 (el 64..79): sc 5, m 1
    b[6] = 0x07; // group 6 (el 96..111): sc 7
    b[8] = 0x42; // group 8 (el 128..143): sc 2, m 4
    b[16 + 0] = 0xe4; // el 0: 0, el 32: 1, el 64: 2, el 96: 3
    b[16 + 32 + 5] = 0x03; // el 133: 3
    dv.setUint16(80, H.half, true); // d
    dv.setUint16(82, H.q, true); // dmin
  });
  const def = (i: number) => (i < 16 ? -0.5 : i >= 64 && i < 80 ? -0.25 : i >= 128 && i < 144 ? -1 : 0);
  expectAll(dequantize(b, 'Q2_K', 256), 256, def, { 32: 1.5, 64: 4.75, 96: 10.5, 133: 2 });
});

test('Q3_K: 3-bit values (clear hmask bit subtracts 4), 6-bit signed scales', () => {
  const b = block(110, (b, dv) => {
    // scales at 96: group 0 = 33 (low 1, high 2) → +1; group 9 = 30 (low 14, high 1) → -2; others 0 → -32.
    b[96 + 0] = 0x01;
    b[96 + 8] = 0x02;
    b[96 + 1] = 0xe0;
    b[96 + 9] = 0x10;
    b[0] = 0x01; // hmask bit 0 of byte 0: el 0 has its high bit
    b[32 + 0] = 0x03; // el 0: low bits 3 → q = 3
    b[16] = 0x10; // hmask bit 4 of byte 16: el 144
    b[32 + 48] = 0x02; // el 144: low bits 2 → q = 2
    dv.setUint16(108, H.half, true);
  });
  // default: q = -4, scale -32, d 0.5 → 64; group 0: dl 0.5 → -2; group 9: dl -1 → 4.
  const def = (i: number) => (i < 16 ? -2 : i >= 144 && i < 160 ? 4 : 64);
  expectAll(dequantize(b, 'Q3_K', 256), 256, def, { 0: 1.5, 144: -2 });
});

/** Scales for Q4_K/Q5_K: sub-block 0: sc 3, m 1; sub-block 5: sc 21, m 35; others 0. */
function k4Scales(b: Uint8Array, at: number): void {
  b[at + 0] = 3;
  b[at + 4] = 1;
  b[at + 1] = 0x40; // top bits → sc5 high part 1
  b[at + 5] = 0x80; // top bits → m5 high part 2
  b[at + 9] = 0x35; // sc5 low 5, m5 low 3
}

test('Q4_K: 4-bit values, 6-bit packed scales and mins per 32', () => {
  const b = block(144, (b, dv) => {
    dv.setUint16(0, H.half, true);
    dv.setUint16(2, H.one, true);
    k4Scales(b, 4);
    b[16 + 0] = 0x0f; // el 0: 15
    b[16 + 64 + 7] = 0xa0; // el 167 (sub-block 5, high nibble): 10
  });
  const def = (i: number) => (i < 32 ? -1 : i >= 160 && i < 192 ? -35 : 0);
  expectAll(dequantize(b, 'Q4_K', 256), 256, def, { 0: 21.5, 167: 70 });
});

test('Q5_K: as Q4_K with a fifth bit from qh', () => {
  const b = block(176, (b, dv) => {
    dv.setUint16(0, H.half, true);
    dv.setUint16(2, H.one, true);
    k4Scales(b, 4);
    b[16 + 0] = 0x03; // el 0 and el 32 get bit 4 (el 32 is in sub-block 1, scale 0)
    b[16 + 3] = 0x01; // el 3: 0|16
    b[16 + 7] = 0x20; // el 167: bit 5
    b[48 + 0] = 0x0f; // el 0: 15|16 = 31
    b[48 + 64 + 7] = 0xa0; // el 167: 10|16 = 26
  });
  const def = (i: number) => (i < 32 ? -1 : i >= 160 && i < 192 ? -35 : 0);
  expectAll(dequantize(b, 'Q5_K', 256), 256, def, { 0: 45.5, 3: 23, 167: 238 });
});

test('Q6_K: 6-bit values, int8 scales per 16, (q - 32) * d * scale', () => {
  const b = block(210, (b, dv) => {
    b.fill(1, 192, 208);
    b[192 + 0] = 2;
    dv.setInt8(192 + 13, -3);
    b[0] = 0x05; // el 0: low 5
    b[128 + 0] = 0x02; // el 0: high 2 → q = 37
    b[64 + 19] = 0xf0; // el 211 (half 1, nibble 1, l 19): low 15
    b[128 + 32 + 19] = 0x30; // el 211 (half 1, shift 2, l 19): high 3 → q = 63
    dv.setUint16(208, H.q, true);
  });
  const def = (i: number) => (i < 16 ? -16 : i >= 208 && i < 224 ? 24 : -8);
  expectAll(dequantize(b, 'Q6_K', 256), 256, def, { 0: 2.5, 211: -23.25 });
});

test('types that cannot be dequantised give a KvError naming the tensor, the type and the alternatives', () => {
  assert.throws(
    () => dequantize(new Uint8Array(66), 'IQ2_XXS', 256, "m.gguf: tensor 'blk.0.attn_q.weight'"),
    (e: unknown) =>
      e instanceof KvError &&
      /tensor 'blk\.0\.attn_q\.weight' has type IQ2_XXS, which kvmerger cannot dequantise; supported: F32, F16/.test(e.message) &&
      /re-quantise/.test(e.message),
  );
  assert.throws(() => dequantize(new Uint8Array(10), 'Q8_0', 32), KvError);
  assert.throws(() => dequantize(new Uint8Array(34), 'Q8_0', 31), KvError);
});

const fixtures = sharedData('gguf-fixtures');
test('every type decodes bit-exactly like the reference (gguf-py) on the shared fixtures', { skip: fixtures ? false : 'no ../shared/data/gguf-fixtures' }, () => {
  const dir = fixtures!;
  const layout = JSON.parse(readFileSync(join(dir, 'dequant-fixtures.json'), 'utf8')) as {
    tensors: Record<string, { type: string; shape_rows_cols: [number, number]; expected_offset_floats: number }>;
  };
  const raw = readFileSync(join(dir, 'dequant-expected.f32'));
  const expected = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const f = openGGUF(join(dir, 'dequant-fixtures.gguf'));
  try {
    const seen = new Set<string>();
    for (const [name, t] of Object.entries(layout.tensors)) {
      const info = f.tensor(name);
      assert.ok(info, name);
      assert.equal(info.typeName, t.type);
      assert.deepEqual(info.dims, [t.shape_rows_cols[1], t.shape_rows_cols[0]]);
      const got = f.readTensorF32(name);
      const want = expected.subarray(t.expected_offset_floats, t.expected_offset_floats + got.length);
      let mismatches = 0;
      for (let i = 0; i < got.length; i++) if (!Object.is(got[i], want[i])) mismatches++;
      assert.equal(mismatches, 0, `${t.type}: ${mismatches} of ${got.length} values differ from the reference`);
      seen.add(t.type);
    }
    for (const t of DEQUANTIZABLE_TYPES) assert.ok(seen.has(t), `fixtures cover ${t}`);
  } finally {
    f.close();
  }
});
