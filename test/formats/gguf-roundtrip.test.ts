// GGUF writer ↔ reader: read(write(x)) == x for every metadata value type and tensor type; quantisation as ggml does it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { gguf, inferType, typedMetadata, writeGGUF, type MetadataInput } from '../../src/formats/gguf-writer.js';
import { dequantize } from '../../src/formats/dequantize.js';
import { KvError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-gguf-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const huge = 2n ** 60n + 1n;
/** Metadata of every value type, with the value the reader must return. */
const META: [string, MetadataInput, unknown][] = [
  ['t.u8', gguf.u8(250), 250],
  ['t.i8', gguf.i8(-100), -100],
  ['t.u16', gguf.u16(65000), 65000],
  ['t.i16', gguf.i16(-32000), -32000],
  ['t.u32', gguf.u32(4000000000), 4000000000],
  ['t.i32', gguf.i32(-2000000000), -2000000000],
  ['t.f32', gguf.f32(1e-5), Math.fround(1e-5)],
  ['t.f64', gguf.f64(Math.PI), Math.PI],
  ['t.bool', gguf.bool(true), true],
  ['t.bool0', false, false],
  ['t.str', gguf.str('héllo ▁wörld 🦙'), 'héllo ▁wörld 🦙'],
  ['t.u64.safe', gguf.u64(2 ** 40), 2 ** 40],
  ['t.u64.huge', gguf.u64(2n ** 64n - 1n), 2n ** 64n - 1n],
  ['t.i64.safe', gguf.i64(-5), -5],
  ['t.i64.huge', gguf.i64(-huge), -huge],
  ['a.u8', new Uint8Array([1, 2, 255]), new Uint8Array([1, 2, 255])],
  ['a.i8', new Int8Array([-1, 127]), new Int8Array([-1, 127])],
  ['a.u16', new Uint16Array([1, 65535]), new Uint16Array([1, 65535])],
  ['a.i16', new Int16Array([-2, 3]), new Int16Array([-2, 3])],
  ['a.u32', gguf.u32Arr([7, 4294967295]), new Uint32Array([7, 4294967295])],
  ['a.i32', gguf.i32Arr([-7, 1, 2]), new Int32Array([-7, 1, 2])],
  ['a.f32', gguf.f32Arr([0.5, -1.25, 3e-3]), Float32Array.from([0.5, -1.25, 3e-3])],
  ['a.f64', new Float64Array([Math.E]), new Float64Array([Math.E])],
  ['a.u64.safe', gguf.arr('u64', [1, 2]), [1, 2]],
  ['a.u64.huge', new BigUint64Array([1n, 2n ** 63n]), new BigUint64Array([1n, 2n ** 63n])],
  ['a.i64.safe', gguf.arr('i64', [-1, 2]), [-1, 2]],
  ['a.i64.huge', new BigInt64Array([-huge]), new BigInt64Array([-huge])],
  ['a.bool', [true, false, true], [true, false, true]],
  ['a.str', gguf.strArr(['a', '', 'Ġthe', '<0x0A>']), ['a', '', 'Ġthe', '<0x0A>']],
  ['a.empty', gguf.strArr([]), []],
  ['a.nested', gguf.nested([gguf.strArr(['x', 'y']), gguf.i32Arr([1]), gguf.nested([gguf.arr('f32', [2])])]), [['x', 'y'], new Int32Array([1]), [new Float32Array([2])]]],
  ['inferred.int', 12, 12],
  ['inferred.float', 0.5, 0.5],
  ['inferred.numbers', [1, 2.5], new Float32Array([1, 2.5])],
];

function ramp(n: number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.fround(Math.sin(i * 0.37) * scale);
  return x;
}

test('read(write(x)) == x for every metadata type and every tensor type, with the alignment honoured', () => {
  const path = join(dir, 'all.gguf');
  const f32 = ramp(2 * 32);
  const f16 = ramp(3 * 32, 100);
  const bf16 = ramp(64, 1e30);
  const q8 = ramp(4 * 64, 3);
  const rawQ4K = new Uint8Array(144 * 2).map((_, i) => (i * 37) & 255);
  const rawI32 = new Uint8Array(new Int32Array([1, -2, 3]).buffer);
  writeGGUF(path, {
    metadata: new Map(META.map(([k, v]) => [k, v])),
    alignment: 64,
    tensors: [
      { name: 'f32', dims: [32, 2], type: 'F32', data: f32 },
      { name: 'f16', dims: [32, 3], type: 'F16', data: f16 },
      { name: 'bf16', dims: [64], type: 'BF16', data: bf16 },
      { name: 'q8_0', dims: [64, 2, 2], type: 'Q8_0', data: q8 },
      { name: 'q4_k.raw', dims: [256, 2], type: 'Q4_K', data: rawQ4K },
      { name: 'i32.raw', dims: [3], type: 'I32', data: rawI32 },
    ],
  });
  const g = openGGUF(path);
  try {
    assert.equal(g.version, 3);
    assert.equal(g.alignment, 64);
    assert.equal(g.fileSize, statSync(path).size);
    assert.equal(g.metadata.get('general.alignment'), 64);
    for (const [k, , want] of META) assert.deepEqual(g.metadata.get(k), want, k);
    assert.deepEqual(g.metadataTypes.get('t.u8'), 'u8');
    assert.deepEqual(g.metadataTypes.get('a.nested'), { array: 'array', items: [{ array: 'str' }, { array: 'i32' }, { array: 'array', items: [{ array: 'f32' }] }] });
    assert.equal(g.dataOffset % 64, 0);
    for (const t of g.tensors) assert.equal((t.offset - g.dataOffset) % 64, 0, t.name);
    assert.deepEqual(g.tensors.map((t) => [t.name, t.typeName, t.dims, t.elements, t.byteSize]), [
      ['f32', 'F32', [32, 2], 64, 256],
      ['f16', 'F16', [32, 3], 96, 192],
      ['bf16', 'BF16', [64], 64, 128],
      ['q8_0', 'Q8_0', [64, 2, 2], 256, 8 * 34],
      ['q4_k.raw', 'Q4_K', [256, 2], 512, 288],
      ['i32.raw', 'I32', [3], 3, 12],
    ]);
    assert.deepEqual(g.readTensorF32('f32'), f32);
    // F16 of values < 100: error at most half an ulp (2^-5 for |x| in [32, 64), 2^-4 in [64, 128)).
    g.readTensorF32('f16').forEach((v, i) => assert.ok(Math.abs(v - f16[i]!) <= Math.abs(f16[i]!) * 2 ** -11, `f16[${i}]`));
    g.readTensorF32('bf16').forEach((v, i) => assert.ok(Math.abs(v - bf16[i]!) <= Math.abs(bf16[i]!) * 2 ** -8, `bf16[${i}]`));
    // Q8_0: error at most d/2 from rounding q, plus |q| ≤ 127 times the f16 rounding error of d (≤ d * 2^-11).
    const q = g.readTensorF32('q8_0');
    for (let b = 0; b < 8; b++) {
      const blk = q8.subarray(b * 32, b * 32 + 32);
      const d = Math.max(...blk.map(Math.abs)) / 127;
      blk.forEach((x, j) => assert.ok(Math.abs(q[b * 32 + j]! - x) <= d * (0.5 + 127 * 2 ** -11) + 1e-7, `q8_0 block ${b} el ${j}`));
    }
    assert.deepEqual(g.readTensorBytes('q4_k.raw'), rawQ4K);
    assert.deepEqual(g.readTensorBytes('i32.raw'), rawI32);
    assert.throws(() => g.readTensorF32('i32.raw'), /type I32, which kvmerger cannot dequantise/);
    assert.throws(() => g.readTensorBytes('nope'), KvError);

    // typedMetadata copies a file faithfully.
    const copy = join(dir, 'copy.gguf');
    writeGGUF(copy, { metadata: typedMetadata(g), tensors: [] });
    const c = openGGUF(copy);
    assert.deepEqual(c.metadata, g.metadata);
    assert.deepEqual(c.metadataTypes, g.metadataTypes);
    c.close();
  } finally {
    g.close();
  }
});

test('GGUF v2 (same layout as v3, 64-bit counts) reads the same metadata and tensors', () => {
  const v3 = join(dir, 'v3.gguf');
  writeGGUF(v3, {
    metadata: { 'general.architecture': 'llama', 't.u64': gguf.u64(2 ** 40), 'a.str': gguf.strArr(['x', 'Ġy']) },
    tensors: [{ name: 'w', dims: [32, 2], type: 'Q8_0', data: ramp(64) }],
  });
  const bytes = readFileSync(v3);
  assert.equal(bytes.readUInt32LE(4), 3);
  bytes.writeUInt32LE(2, 4); // the version field right after the magic
  const v2 = join(dir, 'v2.gguf');
  writeFileSync(v2, bytes);
  const a = openGGUF(v3);
  const b = openGGUF(v2);
  try {
    assert.equal(b.version, 2);
    assert.deepEqual(b.metadata, a.metadata);
    assert.deepEqual(b.tensors, a.tensors);
    assert.deepEqual(b.readTensorF32('w'), a.readTensorF32('w'));
  } finally {
    a.close();
    b.close();
  }
});

test('F16 conversion rounds to nearest even, overflows to Inf, flushes tiny values as ggml does', () => {
  const path = join(dir, 'f16.gguf');
  const x = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 1e-8, 3e-8, -0, 2 ** -14 * 1.5, NaN, -Infinity]);
  writeGGUF(path, { metadata: {}, tensors: [{ name: 'h', dims: [x.length], type: 'F16', data: x }] });
  const g = openGGUF(path);
  const v = g.readTensorF32('h');
  g.close();
  assert.deepEqual([...v.subarray(0, 8)], [1, 1 + 2 ** -9, 65504, Infinity, 0, 2 ** -24, -0, 2 ** -14 * 1.5]);
  assert.ok(Number.isNaN(v[8]));
  assert.equal(v[9], -Infinity);
});

test('Q8_0 quantisation: d = amax/127, q = roundf(x/d) with halves away from zero', () => {
  const x = new Float32Array(32);
  x.set([127, -63.5, 0.5, 2.5, -0.5, 1.4999]);
  const path = join(dir, 'q8.gguf');
  writeGGUF(path, { metadata: {}, tensors: [{ name: 'q', dims: [32], type: 'Q8_0', data: x }] });
  const g = openGGUF(path);
  const bytes = g.readTensorBytes('q');
  g.close();
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint16(0, true), 0x3c00); // d = 1
  assert.deepEqual([...new Int8Array(bytes.buffer, 2, 6)], [127, -64, 1, 3, -1, 1]);
  assert.deepEqual([...dequantize(bytes, 'Q8_0', 32).subarray(0, 6)], [127, -64, 1, 3, -1, 1]);
  // An all-zero block has d = 0 and decodes to zeros.
  writeGGUF(path, { metadata: {}, tensors: [{ name: 'z', dims: [32], type: 'Q8_0', data: new Float32Array(32) }] });
  const z = openGGUF(path);
  assert.deepEqual(z.readTensorF32('z'), new Float32Array(32));
  z.close();
});

test('type inference and writer errors', () => {
  assert.equal(inferType(3), 'u32');
  assert.equal(inferType(-3), 'i32');
  assert.equal(inferType(1e-5), 'f32');
  assert.equal(inferType('x'), 'str');
  assert.deepEqual(inferType(['a']), { array: 'str' });
  assert.deepEqual(inferType([1, 2]), { array: 'i32' });
  const p = join(dir, 'bad.gguf');
  assert.throws(() => writeGGUF(p, { metadata: { k: gguf.u8(300) }, tensors: [] }), /not a valid u8/);
  assert.throws(() => writeGGUF(p, { metadata: {}, tensors: [{ name: 'a', dims: [31], type: 'Q8_0', data: new Float32Array(31) }] }), /block size 32/);
  assert.throws(() => writeGGUF(p, { metadata: {}, tensors: [{ name: 'a', dims: [4], type: 'F32', data: new Float32Array(3) }] }), /3 values/);
  assert.throws(() => writeGGUF(p, { metadata: {}, tensors: [{ name: 'a', dims: [256], type: 'Q2_K', data: new Float32Array(256) }] }), /cannot quantise float32 to Q2_K/);
  assert.throws(() => writeGGUF(p, { metadata: {}, tensors: [{ name: 'a', dims: [4], type: 'Q9', data: new Float32Array(4) }] }), /unknown ggml type/);
});
