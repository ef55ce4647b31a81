/**
 * Safetensors files (Hugging Face's weight format): an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, offsets relative to the end of the
 * header), then the raw tensors, row-major, little-endian.
 *
 * The header is read through a file descriptor and checked against the file size before anything large is allocated:
 * a header length beyond the file, a tensor whose byte range does not match its dtype × shape or runs past the end of
 * the file, overlapping tensors, are one-line KvErrors naming the file and the tensor. Tensor data is read only when
 * a tensor is asked for. F32, F16 and BF16 are converted to float32; other dtypes are listed but not read.
 */
import { closeSync, readSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { bf16BitsToFloat, HALF_TO_FLOAT } from './half.js';
import { openReadableFile } from './open-readable-file.js';

/** Bytes per element of the dtypes safetensors defines. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};

/** The dtypes kvmerger reads as weights. */
export const READABLE_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];

/** A larger header is not a model's tensor table but a damaged file (real ones are well under 10 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  /** Row-major, outermost first (as PyTorch). */
  shape: number[];
  elements: number;
  /** Absolute file offset of the first byte. */
  offset: number;
  byteSize: number;
}

export interface SafetensorsFile {
  readonly path: string;
  readonly fileSize: number;
  readonly tensors: Map<string, SafetensorsTensor>;
  readonly metadata: Record<string, string>;
  /** The tensor's raw bytes. */
  readBytes(name: string): Uint8Array;
  /** The tensor as float32 (F32, F16, BF16 only). */
  readF32(name: string): Float32Array;
  close(): void;
}

function readExact(fd: number, buf: Uint8Array, pos: number, path: string): void {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) throw new KvError(`${path}: the file ended while reading (truncated?)`);
    done += n;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and checks the header; `fileSize` bounds every offset. Exported for tests of the checks. */
export function parseSafetensorsHeader(json: unknown, dataStart: number, fileSize: number, path: string): { tensors: Map<string, SafetensorsTensor>; metadata: Record<string, string> } {
  if (!isObj(json)) throw new KvError(`${path}: the safetensors header is not a JSON object; the file is damaged`);
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  const dataBytes = fileSize - dataStart;
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (isObj(v)) metadata = Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
      continue;
    }
    const what = `${path}: tensor '${name.slice(0, 80)}'`;
    if (!isObj(v)) throw new KvError(`${what}: its header entry is not an object; the file is damaged`);
    const dtype = v.dtype;
    if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
      throw new KvError(`${what}: unknown dtype ${JSON.stringify(dtype)?.slice(0, 20)}; the file is damaged or newer than kvmerger`);
    }
    const shape = v.shape;
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new KvError(`${what}: shape ${JSON.stringify(shape)?.slice(0, 40)} is not a list of non-negative integers; the file is damaged`);
    }
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new KvError(`${what}: data_offsets ${JSON.stringify(offs)?.slice(0, 40)} is not [begin, end]; the file is damaged`);
    }
    const [begin, end] = offs as [number, number];
    let elements = 1;
    for (const d of shape as number[]) {
      elements *= d;
      if (!Number.isSafeInteger(elements)) throw new KvError(`${what}: shape [${shape.join(', ')}] is too large; the file is damaged`);
    }
    const byteSize = elements * DTYPE_BYTES[dtype]!;
    if (end < begin || end - begin !== byteSize) {
      throw new KvError(`${what}: ${dtype} [${shape.join(', ')}] needs ${byteSize} bytes but data_offsets [${begin}, ${end}] give ${end - begin}; the header is damaged`);
    }
    if (end > dataBytes) {
      throw new KvError(`${what}: its data ends at byte ${dataStart + end} but the file has ${fileSize} bytes; the file is truncated (re-download it)`);
    }
    tensors.set(name, { name, dtype, shape: shape as number[], elements, offset: dataStart + begin, byteSize });
  }
  // Tensors must not overlap (each byte belongs to at most one tensor).
  const sorted = [...tensors.values()].filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    if (sorted[i]!.offset < p.offset + p.byteSize) {
      throw new KvError(`${path}: tensors '${p.name}' and '${sorted[i]!.name}' overlap in the file; the header is damaged`);
    }
  }
  return { tensors, metadata };
}

/** Converts raw F32 / F16 / BF16 little-endian bytes to float32 (typed-array views where aligned: a little-endian host). */
export function toFloat32(bytes: Uint8Array, dtype: string, what: string): Float32Array {
  const width = DTYPE_BYTES[dtype] ?? 1;
  const n = bytes.byteLength / width;
  const aligned = bytes.byteOffset % width === 0 && LITTLE_ENDIAN;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (aligned) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'F16': {
      const h = aligned ? new Uint16Array(bytes.buffer, bytes.byteOffset, n) : undefined;
      for (let i = 0; i < n; i++) out[i] = HALF_TO_FLOAT[h ? h[i]! : dv.getUint16(i * 2, true)]!;
      return out;
    }
    case 'BF16': {
      if (aligned) {
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        const o = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) o[i] = h[i]! << 16;
      } else for (let i = 0; i < n; i++) out[i] = bf16BitsToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    default:
      throw new KvError(`${what}: dtype ${dtype} cannot be read as weights; kvmerger reads ${READABLE_DTYPES.join(', ')}`);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Opens a safetensors file and checks its header. The caller must `close()` it. */
export function openSafetensors(path: string): SafetensorsFile {
  const { fd, size } = openReadableFile(path);
  try {
    if (size < 8) throw new KvError(`${path}: ${size} bytes is too short for a safetensors file (8-byte header length first); the file is truncated`);
    const lenBuf = new Uint8Array(8);
    readExact(fd, lenBuf, 0, path);
    const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
    if (n > BigInt(size - 8)) {
      throw new KvError(`${path}: the safetensors header claims ${n} bytes but the file has ${size - 8} after the length; the file is truncated or not safetensors`);
    }
    if (n > BigInt(MAX_HEADER_BYTES)) throw new KvError(`${path}: the safetensors header claims ${n} bytes (more than ${MAX_HEADER_BYTES}); the file is damaged`);
    const headerLen = Number(n);
    const hb = new Uint8Array(headerLen);
    readExact(fd, hb, 8, path);
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(hb));
    } catch (err) {
      const why = (err as Error).message.replace(/,\s*".*" is not valid JSON$/s, '');
      throw new KvError(`${path}: the safetensors header is not valid JSON (${why.slice(0, 80)}); the file is damaged or not safetensors`);
    }
    const { tensors, metadata } = parseSafetensorsHeader(json, 8 + headerLen, size, path);
    let closed = false;
    const readBytes = (name: string): Uint8Array => {
      const t = tensors.get(name);
      if (!t) throw new KvError(`${path}: no tensor named '${name}'`);
      if (closed) throw new Error(`${path}: read after close`);
      const buf = new Uint8Array(t.byteSize);
      readExact(fd, buf, t.offset, path);
      return buf;
    };
    return {
      path,
      fileSize: size,
      tensors,
      metadata,
      readBytes,
      readF32: (name) => toFloat32(readBytes(name), tensors.get(name)!.dtype, `${path}: tensor '${name}'`),
      close: () => {
        if (!closed) closeSync(fd);
        closed = true;
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
