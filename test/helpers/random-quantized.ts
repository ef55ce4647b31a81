/**
 * Random quantised tensors for tests: valid GGUF blocks of any type the packer knows (random code bits, finite
 * half-precision scales of a sane size), and a WeightSource whose matrices are stored in such types, as a GGUF
 * file's would be: `readBytes` gives the stored blocks, `get` their dequantised values (the reference's view).
 */
import type { WeightSource } from '../../src/core/weight-source.js';
import { dequantize } from '../../src/formats/dequantize.js';
import { ggmlByteSize, ggmlTypeByName } from '../../src/formats/ggml-types.js';
import { floatToHalfBits } from '../../src/formats/half.js';
import { Rng } from '../../src/util/rng.js';

/** Byte offsets of the f16 super-scales (d, dmin) inside one block of each type. */
const HALF_FIELDS: Record<string, number[]> = {
  Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0],
  Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208],
};

/**
 * Magnitude of the super-scale d of each type so that the largest weights of a block come out near ±0.1 to ±0.2, as
 * in real files (codes and sub-scales span very different ranges: Q6_K's d·sc·q reaches 127 · 32 · d).
 */
const D_SIZE: Record<string, number> = {
  Q4_0: 0.02, Q4_1: 0.02, Q5_0: 0.01, Q5_1: 0.005, Q8_0: 0.001,
  Q2_K: 0.003, Q3_K: 0.001, Q4_K: 0.0002, Q5_K: 0.0001, Q6_K: 0.00004,
};

/** `elements` weights of `type` as random valid blocks. */
export function randomBlocks(type: string, elements: number, rng: Rng): Uint8Array {
  const info = ggmlTypeByName(type);
  if (!info || !HALF_FIELDS[type]) throw new Error(`randomBlocks: no generator for ${type}`);
  const out = new Uint8Array(ggmlByteSize(info, elements));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rng.next() * 256);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < out.length / info.typeSize; b++) {
    HALF_FIELDS[type]!.forEach((at, k) => {
      // d may be negative for the symmetric types, as real files hold; dmin stays positive.
      const sign = k === 0 && !type.endsWith('_1') && !type.endsWith('K') ? (rng.next() < 0.5 ? -1 : 1) : 1;
      dv.setUint16(b * info.typeSize + at, floatToHalfBits(sign * D_SIZE[type]! * (0.5 + rng.next())), true);
    });
  }
  return out;
}

/**
 * A WeightSource over `base` whose tensors named by `typeOf(name)` (when it returns a type) are replaced by random
 * blocks of that type (same shape); the rest stay as in `base`.
 */
export function quantizedWeightSource(base: WeightSource, seed: number, typeFor: (name: string, shape: number[]) => string | undefined): WeightSource {
  const rng = new Rng(seed);
  const raw = new Map<string, { type: string; bytes: Uint8Array; values: Float32Array }>();
  const names = (base as WeightSource & { names?: () => string[] }).names?.() ?? [];
  const consider = (name: string): void => {
    if (raw.has(name) || !base.has(name)) return;
    const shape = base.shapeOf(name);
    const type = typeFor(name, shape);
    if (!type) return;
    const elements = shape.reduce((a, b) => a * b, 1);
    const bytes = randomBlocks(type, elements, rng);
    raw.set(name, { type, bytes, values: dequantize(bytes, type, elements, name) });
  };
  for (const n of names) consider(n);
  const look = (name: string) => {
    consider(name);
    return raw.get(name);
  };
  return {
    config: base.config,
    has: (name) => base.has(name),
    get: (name) => look(name)?.values ?? base.get(name),
    typeOf: (name) => look(name)?.type ?? base.typeOf(name),
    shapeOf: (name) => base.shapeOf(name),
    readBytes: (name) => {
      const r = look(name);
      if (r) return r.bytes;
      const v = base.get(name);
      return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    },
  };
}
