/**
 * GGUF v3 writer. Metadata values carry explicit GGUF types where it matters (llama.cpp checks them: e.g.
 * `llama.block_count` must be uint32 and `llama.attention.layer_norm_rms_epsilon` float32), through the `gguf.*`
 * helpers; untyped values are inferred (see `inferType`). Tensors are given as float32 (quantised here to F32, F16,
 * BF16 or Q8_0) or as raw bytes of any ggml type. Tensors are written one at a time, so the whole model never needs to
 * be in memory as one buffer.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { ggmlByteSize, ggmlTypeByName } from './ggml-types.js';
import { GGUF_TYPE_IDS, type GGUFScalarType, type GGUFType, type GGUFTypedValue, type GGUFValue } from './gguf-types.js';
import { quantize } from './quantize.js';

export type MetadataInput = GGUFValue | GGUFTypedValue;

export interface GGUFTensorInput {
  name: string;
  /** GGUF order (ne, innermost first): a row-major [out, in] matrix has dims [in, out]. */
  dims: number[];
  /** Stored type: 'F32', 'F16', 'BF16', 'Q8_0' from float32 data; any ggml type name from raw bytes. */
  type: string;
  /**
   * Float32 values in stored order (quantised to `type`), or the raw bytes of `type`; or a function that makes them
   * when the tensor is written (so a large model is generated one tensor at a time, never held whole).
   */
  data: Float32Array | Uint8Array | (() => Float32Array | Uint8Array);
}

export interface GGUFWriteInput {
  metadata: Map<string, MetadataInput> | Record<string, MetadataInput>;
  tensors: GGUFTensorInput[];
  /** Data alignment (default: general.alignment from the metadata, else 32). */
  alignment?: number;
}

const t = (type: GGUFType, value: GGUFValue): GGUFTypedValue => ({ type, value });

/** Typed metadata values for the writer. */
export const gguf = {
  u8: (v: number) => t('u8', v),
  i8: (v: number) => t('i8', v),
  u16: (v: number) => t('u16', v),
  i16: (v: number) => t('i16', v),
  u32: (v: number) => t('u32', v),
  i32: (v: number) => t('i32', v),
  u64: (v: number | bigint) => t('u64', v),
  i64: (v: number | bigint) => t('i64', v),
  f32: (v: number) => t('f32', v),
  f64: (v: number) => t('f64', v),
  bool: (v: boolean) => t('bool', v),
  str: (v: string) => t('str', v),
  /** An array of scalars of one type. */
  arr: (elem: GGUFScalarType, values: GGUFValue) => t({ array: elem }, values),
  strArr: (values: string[]) => t({ array: 'str' }, values),
  f32Arr: (values: ArrayLike<number>) => t({ array: 'f32' }, Float32Array.from(values)),
  i32Arr: (values: ArrayLike<number>) => t({ array: 'i32' }, Int32Array.from(values)),
  u32Arr: (values: ArrayLike<number>) => t({ array: 'u32' }, Uint32Array.from(values)),
  /** An array of arrays, each a typed value. */
  nested: (items: GGUFTypedValue[]) => t({ array: 'array', items: items.map((i) => i.type) }, items.map((i) => i.value)),
};

function isTyped(v: MetadataInput): v is GGUFTypedValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'type' in v && 'value' in v;
}

function inferScalar(v: GGUFValue, key: string): GGUFScalarType {
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return v < 0n || v <= 0x7fffffffffffffffn ? 'i64' : 'u64';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return 'f32';
    if (v >= 0 && v <= 0xffffffff) return 'u32';
    if (v < 0 && v >= -0x80000000) return 'i32';
    return 'i64';
  }
  throw new KvError(`metadata '${key}': cannot infer a GGUF type for this value; give it with gguf.*`);
}

/**
 * The GGUF type of an untyped value: strings → str, booleans → bool, non-negative integers → u32, negative → i32,
 * larger integers and bigints → i64, other numbers → f32; typed arrays → arrays of their element type, string[] →
 * str array, boolean[] → bool array, number[] → i32 array when all are 32-bit integers else f32, arrays of arrays →
 * nested. A float key whose value happens to be an integer (a RoPE base of 10000) must be given with gguf.f32.
 */
export function inferType(v: GGUFValue, key = 'value'): GGUFType {
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Uint8Array) return { array: 'u8' };
    if (v instanceof Int8Array) return { array: 'i8' };
    if (v instanceof Uint16Array) return { array: 'u16' };
    if (v instanceof Int16Array) return { array: 'i16' };
    if (v instanceof Uint32Array) return { array: 'u32' };
    if (v instanceof Int32Array) return { array: 'i32' };
    if (v instanceof Float32Array) return { array: 'f32' };
    if (v instanceof Float64Array) return { array: 'f64' };
    if (v instanceof BigUint64Array) return { array: 'u64' };
    if (v instanceof BigInt64Array) return { array: 'i64' };
  }
  if (Array.isArray(v)) {
    const a = v as GGUFValue[];
    if (a.length > 0 && a.every((x) => Array.isArray(x) || ArrayBuffer.isView(x))) {
      return { array: 'array', items: a.map((x, i) => inferType(x, `${key}[${i}]`)) };
    }
    if (a.every((x) => typeof x === 'string')) return { array: 'str' };
    if (a.every((x) => typeof x === 'boolean')) return { array: 'bool' };
    if (a.every((x) => typeof x === 'number')) {
      return (a as number[]).every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) ? { array: 'i32' } : { array: 'f32' };
    }
    throw new KvError(`metadata '${key}': an array of mixed types cannot be stored in GGUF`);
  }
  return inferScalar(v, key);
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;
  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number) {
    this.grow(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  u32(v: number) {
    this.grow(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number | bigint) {
    this.grow(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  str(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.bytes(b);
  }
  contents(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function checkInt(v: unknown, lo: number | bigint, hi: number | bigint, key: string, type: string): number | bigint {
  const ok = (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
  if (!ok || (v as number | bigint) < lo || (v as number | bigint) > hi) {
    throw new KvError(`metadata '${key}': ${String(v)} is not a valid ${type}`);
  }
  return v as number | bigint;
}

function writeScalar(s: ByteSink, type: GGUFScalarType, v: unknown, key: string): void {
  const b = Buffer.alloc(8);
  switch (type) {
    case 'u8':
      return s.u8(Number(checkInt(v, 0, 255, key, type)));
    case 'i8':
      b.writeInt8(Number(checkInt(v, -128, 127, key, type)));
      return s.bytes(b.subarray(0, 1));
    case 'u16':
      b.writeUInt16LE(Number(checkInt(v, 0, 0xffff, key, type)));
      return s.bytes(b.subarray(0, 2));
    case 'i16':
      b.writeInt16LE(Number(checkInt(v, -0x8000, 0x7fff, key, type)));
      return s.bytes(b.subarray(0, 2));
    case 'u32':
      return s.u32(Number(checkInt(v, 0, 0xffffffff, key, type)));
    case 'i32':
      b.writeInt32LE(Number(checkInt(v, -0x80000000, 0x7fffffff, key, type)));
      return s.bytes(b.subarray(0, 4));
    case 'u64':
      b.writeBigUInt64LE(BigInt(checkInt(v, 0n, 0xffffffffffffffffn, key, type)));
      return s.bytes(b);
    case 'i64':
      b.writeBigInt64LE(BigInt(checkInt(v, -0x8000000000000000n, 0x7fffffffffffffffn, key, type)));
      return s.bytes(b);
    case 'f32':
    case 'f64':
      if (typeof v !== 'number') throw new KvError(`metadata '${key}': ${String(v)} is not a number`);
      if (type === 'f32') b.writeFloatLE(v);
      else b.writeDoubleLE(v);
      return s.bytes(b.subarray(0, type === 'f32' ? 4 : 8));
    case 'bool':
      if (typeof v !== 'boolean') throw new KvError(`metadata '${key}': ${String(v)} is not a boolean`);
      return s.u8(v ? 1 : 0);
    case 'str':
      if (typeof v !== 'string') throw new KvError(`metadata '${key}': ${String(v)} is not a string`);
      return s.str(v);
  }
}

/** Writes a value's body (no type id) of type `type`. */
function writeValue(s: ByteSink, type: GGUFType, v: GGUFValue, key: string): void {
  if (typeof type === 'string') return writeScalar(s, type, v, key);
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new KvError(`metadata '${key}': expected an array`);
  const items = Array.from(v as ArrayLike<unknown>);
  s.u32(GGUF_TYPE_IDS[type.array]);
  s.u64(items.length);
  if (type.array === 'array') {
    const nested = type as { array: 'array'; items: GGUFType[] };
    if (nested.items.length !== items.length) throw new KvError(`metadata '${key}': nested array has ${items.length} items but ${nested.items.length} types`);
    // Each element is an array written without a type id of its own: [element type, count, items] (as gguf-py does).
    items.forEach((x, i) => {
      const it = nested.items[i]!;
      if (typeof it === 'string') throw new KvError(`metadata '${key}[${i}]': an array of arrays can only hold arrays`);
      writeValue(s, it, x as GGUFValue, `${key}[${i}]`);
    });
    return;
  }
  const elem = type.array;
  items.forEach((x, i) => writeScalar(s, elem, x, `${key}[${i}]`));
}

function typeIdOf(type: GGUFType): number {
  return GGUF_TYPE_IDS[typeof type === 'string' ? type : 'array'];
}

/** Writes a GGUF v3 file at `path`. */
export function writeGGUF(path: string, input: GGUFWriteInput): void {
  const entries: [string, MetadataInput][] = input.metadata instanceof Map ? [...input.metadata] : Object.entries(input.metadata);
  const meta: [string, GGUFTypedValue][] = entries.map(([k, v]) => [k, isTyped(v) ? v : { type: inferType(v, k), value: v }]);

  let alignment = input.alignment;
  const metaAlign = meta.find(([k]) => k === 'general.alignment');
  if (metaAlign) {
    if (metaAlign[1].type !== 'u32') throw new KvError(`metadata 'general.alignment' must be a u32 (use gguf.u32)`);
    if (alignment !== undefined && alignment !== metaAlign[1].value) throw new KvError(`alignment ${alignment} differs from general.alignment ${String(metaAlign[1].value)}`);
    alignment = metaAlign[1].value as number;
  } else if (alignment !== undefined && alignment !== 32) {
    meta.push(['general.alignment', gguf.u32(alignment)]);
  }
  alignment ??= 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new KvError(`alignment must be a power of two, got ${alignment}`);

  // Encode each tensor's bytes lazily at write time, but know sizes now for the offsets.
  const names = new Set<string>();
  const plans = input.tensors.map((tin) => {
    const type = ggmlTypeByName(tin.type);
    if (!type) throw new KvError(`tensor '${tin.name}': unknown ggml type '${tin.type}'`);
    if (names.has(tin.name)) throw new KvError(`tensor '${tin.name}' given twice`);
    names.add(tin.name);
    if (tin.dims.length < 1 || tin.dims.length > 4 || !tin.dims.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new KvError(`tensor '${tin.name}': dims [${tin.dims.join(', ')}] must be 1 to 4 non-negative integers`);
    }
    const elements = tin.dims.reduce((a, b) => a * b, 1);
    if (tin.dims[0]! % type.blockSize !== 0) throw new KvError(`tensor '${tin.name}': ${tin.dims[0]} columns is not a multiple of the ${type.name} block size ${type.blockSize}`);
    const byteSize = ggmlByteSize(type, elements);
    if (typeof tin.data !== 'function') checkData(tin, tin.data, type.name, elements, byteSize);
    return { tin, type, byteSize, elements };
  });

  const s = new ByteSink();
  s.u32(0x46554747);
  s.u32(3);
  s.u64(plans.length);
  s.u64(meta.length);
  for (const [k, tv] of meta) {
    s.str(k);
    s.u32(typeIdOf(tv.type));
    writeValue(s, tv.type, tv.value, k);
  }
  let rel = 0;
  const offsets: number[] = [];
  for (const p of plans) {
    s.str(p.tin.name);
    s.u32(p.tin.dims.length);
    for (const d of p.tin.dims) s.u64(d);
    s.u32(p.type.id);
    s.u64(rel);
    offsets.push(rel);
    rel += Math.ceil(p.byteSize / alignment) * alignment;
  }
  const headerPad = (alignment - (s.length % alignment)) % alignment;
  s.bytes(new Uint8Array(headerPad));

  const fd = openSync(path, 'w');
  try {
    writeAll(fd, s.contents());
    plans.forEach((p) => {
      const data = typeof p.tin.data === 'function' ? p.tin.data() : p.tin.data;
      if (typeof p.tin.data === 'function') checkData(p.tin, data, p.type.name, p.elements, p.byteSize);
      const bytes = data instanceof Float32Array ? quantize(data, p.type.name, `tensor '${p.tin.name}'`) : data;
      writeAll(fd, bytes);
      const pad = (alignment - (bytes.byteLength % alignment)) % alignment;
      if (pad) writeAll(fd, new Uint8Array(pad));
    });
  } finally {
    closeSync(fd);
  }
}

function checkData(tin: GGUFTensorInput, data: Float32Array | Uint8Array, typeName: string, elements: number, byteSize: number): void {
  if (data instanceof Float32Array) {
    if (data.length !== elements) throw new KvError(`tensor '${tin.name}': ${data.length} values for dims [${tin.dims.join(', ')}] (${elements} elements)`);
  } else if (data.byteLength !== byteSize) {
    throw new KvError(`tensor '${tin.name}': ${data.byteLength} raw bytes, ${typeName} [${tin.dims.join(', ')}] needs ${byteSize}`);
  }
}

function writeAll(fd: number, b: Uint8Array): void {
  let done = 0;
  while (done < b.byteLength) done += writeSync(fd, b, done, b.byteLength - done);
}

/** The metadata of an opened GGUF with its types, ready to pass back to `writeGGUF` (to copy or edit a file). */
export function typedMetadata(file: { metadata: Map<string, GGUFValue>; metadataTypes: Map<string, GGUFType> }): Map<string, GGUFTypedValue> {
  const out = new Map<string, GGUFTypedValue>();
  for (const [k, v] of file.metadata) out.set(k, { type: file.metadataTypes.get(k)!, value: v });
  return out;
}
