/**
 * GGUF reader (versions 2 and 3). Reads the header (metadata and tensor infos) through a file descriptor in chunks;
 * tensor data is read lazily at each tensor's offset, so a 2 GB file is never held in memory.
 *
 * Every length and count in the header is checked against the file size before anything is allocated from it, so a
 * truncated or corrupt file gives a KvError naming the file and the problem, never a huge allocation or a hang.
 */
import { closeSync, readSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { ggmlByteSize, ggmlTypeById, type GGMLTypeInfo } from './ggml-types.js';
import {
  GGUF_SCALAR_BYTES,
  GGUF_TYPE_BY_ID,
  type GGUFScalarType,
  type GGUFType,
  type GGUFValue,
} from './gguf-types.js';
import { dequantize } from './dequantize.js';
import { assertFiniteStored } from './finite-check.js';
import { openReadableFile } from './open-readable-file.js';

export type { GGUFValue, GGUFType, GGUFScalarType } from './gguf-types.js';

export interface GGUFTensorInfo {
  name: string;
  /** Dimensions in GGUF order (ne: innermost first); a matrix [out, in] is stored as dims [in, out]. */
  dims: number[];
  /** ggml type id. */
  type: number;
  /** ggml type name ('F32', 'Q4_K', ...). */
  typeName: string;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteSize: number;
  elements: number;
}

export interface GGUFFile {
  path: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Absolute offset where the tensor data section starts. */
  dataOffset: number;
  metadata: Map<string, GGUFValue>;
  /** The GGUF type of every metadata value (what a writer needs to copy it faithfully). */
  metadataTypes: Map<string, GGUFType>;
  tensors: GGUFTensorInfo[];
  /** The tensor named `name`, or undefined. */
  tensor(name: string): GGUFTensorInfo | undefined;
  /** The tensor's raw bytes as stored (a fresh copy). */
  readTensorBytes(name: string): Uint8Array;
  /** The tensor dequantised to float32, in stored order (ne0 fastest). */
  readTensorF32(name: string): Float32Array;
  /**
   * The same values written into `dest` (length = the tensor's elements). F32 tensors are read straight into it;
   * others go through a small reused buffer, piece by piece, so reading a model allocates nothing large.
   */
  readTensorF32Into(name: string, dest: Float32Array): void;
  /** When true, reading a tensor that holds NaN or Inf (a value or a block scale) throws a KvError naming it. */
  checkFinite: boolean;
  close(): void;
}

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const CHUNK = 1 << 20;
/** A single metadata string longer than this is treated as corruption (real ones, chat templates, are < 1 MB). */
const MAX_STRING_BYTES = 64 << 20;
const MAX_DIMS = 4;
/** Bytes per piece when dequantising into a caller's buffer. */
const PIECE_BYTES = 64 << 10;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** What a read is for, in error messages; a function so that the hot path (vocabulary arrays) builds no strings. */
type Label = string | (() => string);
const label = (w: Label): string => (typeof w === 'string' ? w : w());

/** Sequential reader over the header, pulling chunks from the fd on demand. */
class HeaderCursor {
  pos = 0;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;

  constructor(
    private readonly fd: number,
    readonly fileSize: number,
    private readonly path: string,
  ) {}

  /** Throws unless `n` more bytes exist in the file after the cursor. */
  need(n: number, what: Label): void {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.fileSize) {
      throw new KvError(
        `${this.path}: truncated or corrupt GGUF header: ${label(what)} needs ${n} bytes at offset ${this.pos} but the file has ${this.fileSize} bytes; the download may be incomplete`,
      );
    }
  }

  /** Makes bytes [pos, pos+n) available in `buf`, returns their start index in it. */
  private window(n: number, what: Label): number {
    this.need(n, what);
    const rel = this.pos - this.bufStart;
    if (rel >= 0 && rel + n <= this.buf.length) return rel;
    const len = Math.min(Math.max(n, CHUNK), this.fileSize - this.pos);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const r = readSync(this.fd, buf, got, len - got, this.pos + got);
      if (r === 0) break;
      got += r;
    }
    if (got < n) throw new KvError(`${this.path}: could not read ${n} bytes at offset ${this.pos} (file shrank while reading?)`);
    this.buf = buf;
    this.bufStart = this.pos;
    return 0;
  }

  bytes(n: number, what: Label): Buffer {
    const i = this.window(n, what);
    this.pos += n;
    return this.buf.subarray(i, i + n);
  }

  u8(what: Label): number {
    const i = this.window(1, what);
    this.pos += 1;
    return this.buf[i]!;
  }
  u32(what: Label): number {
    const i = this.window(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(i);
  }
  u64(what: Label): bigint {
    const i = this.window(8, what);
    this.pos += 8;
    return this.buf.readBigUInt64LE(i);
  }
  /** A uint64 that must fit a safe integer (a count or a length). */
  count(what: Label): number {
    const i = this.window(8, what);
    this.pos += 8;
    const lo = this.buf.readUInt32LE(i);
    const hi = this.buf.readUInt32LE(i + 4);
    if (hi > 0x1fffff) {
      const v = this.buf.readBigUInt64LE(i);
      throw new KvError(`${this.path}: corrupt GGUF header: ${label(what)} is ${v}, far larger than the file; the file is damaged`);
    }
    return hi * 0x100000000 + lo;
  }

  string(what: Label): string {
    const len = this.count(() => `length of ${label(what)}`);
    if (len > MAX_STRING_BYTES) {
      throw new KvError(`${this.path}: corrupt GGUF header: ${label(what)} claims ${len} bytes; the file is damaged`);
    }
    const i = this.window(len, what);
    this.pos += len;
    return this.buf.toString('utf8', i, i + len);
  }
}

function safeOr64(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function readScalar(c: HeaderCursor, t: GGUFScalarType, what: string): GGUFValue {
  if (t === 'str') return c.string(what);
  const b = c.bytes(GGUF_SCALAR_BYTES[t], what);
  switch (t) {
    case 'u8':
      return b.readUInt8(0);
    case 'i8':
      return b.readInt8(0);
    case 'u16':
      return b.readUInt16LE(0);
    case 'i16':
      return b.readInt16LE(0);
    case 'u32':
      return b.readUInt32LE(0);
    case 'i32':
      return b.readInt32LE(0);
    case 'f32':
      return b.readFloatLE(0);
    case 'f64':
      return b.readDoubleLE(0);
    case 'bool':
      return b.readUInt8(0) !== 0;
    case 'u64':
      return safeOr64(b.readBigUInt64LE(0));
    case 'i64':
      return safeOr64(b.readBigInt64LE(0));
  }
}

/** Copies `n` little-endian elements into a fresh (aligned) typed array. */
function readNumericArray(c: HeaderCursor, t: GGUFScalarType, n: number, what: string): GGUFValue {
  const size = GGUF_SCALAR_BYTES[t];
  const raw = c.bytes(n * size, what);
  const ab = new ArrayBuffer(n * size);
  new Uint8Array(ab).set(raw);
  switch (t) {
    case 'u8':
      return new Uint8Array(ab);
    case 'i8':
      return new Int8Array(ab);
    case 'u16':
      return new Uint16Array(ab);
    case 'i16':
      return new Int16Array(ab);
    case 'u32':
      return new Uint32Array(ab);
    case 'i32':
      return new Int32Array(ab);
    case 'f32':
      return new Float32Array(ab);
    case 'f64':
      return new Float64Array(ab);
    case 'u64':
    case 'i64': {
      const arr = t === 'u64' ? new BigUint64Array(ab) : new BigInt64Array(ab);
      const min = BigInt(Number.MIN_SAFE_INTEGER);
      const max = BigInt(Number.MAX_SAFE_INTEGER);
      for (const v of arr) if (v < min || v > max) return arr;
      return Array.from(arr, Number);
    }
    default:
      throw new Error(`not a numeric type: ${t}`);
  }
}

function typeOfId(c: HeaderCursor, path: string, id: number, what: string): GGUFScalarType | 'array' {
  const t = GGUF_TYPE_BY_ID[id];
  if (t === undefined) {
    throw new KvError(`${path}: corrupt GGUF header: ${what} has unknown value type ${id} (at offset ${c.pos - 4}); the file is damaged or from a newer GGUF version`);
  }
  return t;
}

function readValue(c: HeaderCursor, path: string, t: GGUFScalarType | 'array', what: string, depth: number): [GGUFValue, GGUFType] {
  if (t !== 'array') return [readScalar(c, t, what), t];
  if (depth > 8) throw new KvError(`${path}: corrupt GGUF header: ${what} nests arrays more than 8 deep`);
  const et = typeOfId(c, path, c.u32(`element type of ${what}`), `array ${what}`);
  const n = c.count(`element count of ${what}`);
  // Every element takes at least this many bytes, so the count is bounded by the bytes left in the file.
  const minBytes = et === 'array' ? 12 : GGUF_SCALAR_BYTES[et];
  c.need(n * minBytes, `array ${what} of ${n} elements`);
  if (et === 'str') {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(c.string(() => `${what}[${i}]`));
    return [out, { array: 'str' }];
  }
  if (et === 'bool') {
    const raw = c.bytes(n, what);
    return [Array.from(raw, (b) => b !== 0), { array: 'bool' }];
  }
  if (et === 'array') {
    const vals: GGUFValue[] = [];
    const types: GGUFType[] = [];
    for (let i = 0; i < n; i++) {
      const [v, ty] = readValue(c, path, 'array', `${what}[${i}]`, depth + 1);
      vals.push(v);
      types.push(ty);
    }
    return [vals, { array: 'array', items: types }];
  }
  return [readNumericArray(c, et, n, what), { array: et }];
}

class GGUFFileImpl implements GGUFFile {
  private closed = false;
  private readonly byName: Map<string, GGUFTensorInfo>;

  constructor(
    private fd: number,
    readonly path: string,
    readonly version: number,
    readonly fileSize: number,
    readonly alignment: number,
    readonly dataOffset: number,
    readonly metadata: Map<string, GGUFValue>,
    readonly metadataTypes: Map<string, GGUFType>,
    readonly tensors: GGUFTensorInfo[],
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** Reject tensors holding NaN or Inf as they are read (set by the model loader; off for raw reads). */
  checkFinite = false;

  tensor(name: string): GGUFTensorInfo | undefined {
    return this.byName.get(name);
  }

  private info(name: string): GGUFTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new KvError(`${this.path}: no tensor named '${name}'`);
    return t;
  }

  readTensorBytes(name: string): Uint8Array {
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const t = this.info(name);
    const out = new Uint8Array(t.byteSize);
    this.readRange(t, out, 0);
    return out;
  }

  /**
   * Fill `into` with the tensor's stored bytes from byte `from` of its data (whole values or blocks). With
   * `checkFinite`, a NaN or Inf among them (a value, or a quantised block's scale) is a KvError naming the tensor,
   * found on the bytes just read.
   */
  private readRange(t: GGUFTensorInfo, into: Uint8Array, from: number): void {
    let got = 0;
    while (got < into.length) {
      const r = readSync(this.fd, into, got, into.length - got, t.offset + from + got);
      if (r === 0) {
        throw new KvError(`${this.path}: truncated: tensor '${t.name}' needs bytes up to ${t.offset + t.byteSize} but only ${t.offset + from + got} could be read; the download may be incomplete`);
      }
      got += r;
    }
    if (this.checkFinite) assertFiniteStored(into, t.typeName, from, this.path, t.name);
  }

  readTensorF32Into(name: string, dest: Float32Array): void {
    if (this.closed) throw new Error(`${this.path}: read after close`);
    const t = this.info(name);
    if (dest.length !== t.elements) throw new RangeError(`${this.path}: tensor '${name}' has ${t.elements} values, the destination ${dest.length}`);
    const what = `${this.path}: tensor '${name}'`;
    if (t.typeName === 'F32' && LITTLE_ENDIAN) {
      this.readRange(t, new Uint8Array(dest.buffer, dest.byteOffset, dest.byteLength), 0);
      return;
    }
    const type = ggmlTypeById(t.type);
    if (!type) {
      dequantize(new Uint8Array(0), t.typeName, t.elements, what); // throws the unsupported-type error
      return;
    }
    // Whole blocks per piece; 64 KiB stays below glibc's mmap threshold, so this allocation never moves it.
    const blocksPerPiece = Math.max(1, Math.floor(PIECE_BYTES / type.typeSize));
    const scratch = new Uint8Array(blocksPerPiece * type.typeSize);
    const blocks = t.elements / type.blockSize;
    for (let b = 0; b < blocks; b += blocksPerPiece) {
      const n = Math.min(blocksPerPiece, blocks - b);
      const piece = scratch.subarray(0, n * type.typeSize);
      this.readRange(t, piece, b * type.typeSize);
      dequantize(piece, t.typeName, n * type.blockSize, what, dest.subarray(b * type.blockSize, (b + n) * type.blockSize));
    }
  }

  readTensorF32(name: string): Float32Array {
    const t = this.info(name);
    return dequantize(this.readTensorBytes(name), t.typeName, t.elements, `${this.path}: tensor '${name}'`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Opens a GGUF file and reads its header. The caller must `close()` it. */
export function openGGUF(path: string): GGUFFile {
  const { fd, size } = openReadableFile(path);
  try {
    return parse(fd, size, path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

function parse(fd: number, fileSize: number, path: string): GGUFFile {
  const c = new HeaderCursor(fd, fileSize, path);
  if (fileSize < 4) throw new KvError(`${path}: not a GGUF file (only ${fileSize} bytes)`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    throw new KvError(`${path}: not a GGUF file (magic number 0x${magic.toString(16).padStart(8, '0')}, expected "GGUF")`);
  }
  const version = c.u32('version');
  if (version === 1) throw new KvError(`${path}: GGUF version 1 is not supported (it predates llama.cpp's 2023 format); convert the model again with a current llama.cpp`);
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3) throw new KvError(`${path}: big-endian GGUF files are not supported; use a little-endian conversion of the model`);
    throw new KvError(`${path}: unsupported GGUF version ${version}; kvmerger reads versions 2 and 3`);
  }
  const tensorCount = c.count('tensor count');
  const kvCount = c.count('metadata count');
  // Minimum bytes: a key/value pair is ≥ 8 (key length) + 4 (type) + 1; a tensor info ≥ 8 + 4 + 8 + 4 + 8.
  c.need(kvCount * 13, `${kvCount} metadata entries`);
  const metadata = new Map<string, GGUFValue>();
  const metadataTypes = new Map<string, GGUFType>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const t = typeOfId(c, path, c.u32(`type of metadata '${key}'`), `metadata '${key}'`);
    const [v, ty] = readValue(c, path, t, `metadata '${key}'`, 0);
    if (metadata.has(key)) throw new KvError(`${path}: corrupt GGUF header: metadata key '${key}' appears twice`);
    metadata.set(key, v);
    metadataTypes.set(key, ty);
  }

  let alignment = 32;
  if (metadata.has('general.alignment')) {
    const a = metadata.get('general.alignment');
    if (metadataTypes.get('general.alignment') !== 'u32' || typeof a !== 'number' || a === 0 || (a & (a - 1)) !== 0) {
      throw new KvError(`${path}: general.alignment must be a power-of-two uint32, got ${String(a)}; the file is damaged`);
    }
    alignment = a;
  }

  c.need(tensorCount * 32, `${tensorCount} tensor infos`);
  const raw: { name: string; dims: number[]; type: GGMLTypeInfo; rel: number; elements: number; byteSize: number }[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`name of tensor #${i}`);
    if (seen.has(name)) throw new KvError(`${path}: corrupt GGUF header: tensor '${name}' appears twice`);
    seen.add(name);
    const nDims = c.u32(`dimension count of tensor '${name}'`);
    if (nDims < 1 || nDims > MAX_DIMS) throw new KvError(`${path}: corrupt GGUF header: tensor '${name}' has ${nDims} dimensions (1 to ${MAX_DIMS} allowed)`);
    const dims: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const n = c.count(`dimension ${d} of tensor '${name}'`);
      dims.push(n);
      elements *= n;
      if (!Number.isSafeInteger(elements) || elements > fileSize * 64) {
        throw new KvError(`${path}: corrupt GGUF header: tensor '${name}' has implausible dimensions [${dims.join(', ')}...]; the file is damaged`);
      }
    }
    const typeId = c.u32(`type of tensor '${name}'`);
    const type = ggmlTypeById(typeId);
    if (!type) throw new KvError(`${path}: tensor '${name}' has unknown ggml type id ${typeId}; the file is damaged or needs a newer kvmerger`);
    if (dims[0]! % type.blockSize !== 0) {
      throw new KvError(`${path}: corrupt GGUF header: tensor '${name}' has ${dims[0]} columns, not a multiple of the ${type.name} block size ${type.blockSize}`);
    }
    const rel = c.count(`offset of tensor '${name}'`);
    if (rel % alignment !== 0) throw new KvError(`${path}: corrupt GGUF header: tensor '${name}' offset ${rel} is not a multiple of the alignment ${alignment}`);
    raw.push({ name, dims, type, rel, elements, byteSize: ggmlByteSize(type, elements) });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (tensorCount > 0 && dataOffset > fileSize) {
    throw new KvError(`${path}: truncated: the tensor data should start at byte ${dataOffset} but the file has ${fileSize} bytes; the download may be incomplete`);
  }
  const tensors: GGUFTensorInfo[] = raw.map((r) => {
    const offset = dataOffset + r.rel;
    const end = offset + r.byteSize;
    if (!Number.isSafeInteger(end) || end > fileSize) {
      throw new KvError(`${path}: truncated: tensor '${r.name}' needs bytes up to ${end} but the file has ${fileSize} bytes; the download may be incomplete`);
    }
    return { name: r.name, dims: r.dims, type: r.type.id, typeName: r.type.name, offset, byteSize: r.byteSize, elements: r.elements };
  });
  return new GGUFFileImpl(fd, path, version, fileSize, alignment, dataOffset, metadata, metadataTypes, tensors);
}
