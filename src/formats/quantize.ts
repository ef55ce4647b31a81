/**
 * Float32 → stored-type encoders the writer needs: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, each as ggml's
 * reference quantiser (ggml-quants.c, quantize_row_*_ref) does it, in its order of float32 operations. K-quants
 * (Q4_K_M and the like) are not written here: `kvmerger bench` has native llama-quantize make them.
 */
import { KvError } from '../util/errors.js';
import { floatToBf16Bits, floatToHalfBits, HALF_TO_FLOAT } from './half.js';

const fr = Math.fround;

/** Types `quantize` can produce from float32. */
export const QUANTIZABLE_TYPES: readonly string[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1'];

/** C's roundf: halves away from zero. */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Q8_0 blocks of 32: d = amax / 127 (float32, stored as f16), q = roundf(x * (1/d)) with the float32 d — the order of
 * ggml's quantize_row_q8_0_ref.
 */
function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = fr(amax / 127);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 34, floatToHalfBits(d), true);
    for (let j = 0; j < 32; j++) {
      const q = roundAway(fr(x[b * 32 + j]! * id));
      dv.setInt8(b * 34 + 2 + j, Math.max(-128, Math.min(127, q)));
    }
  }
  return out;
}

/** The value of largest magnitude in x[o..o+32) (the first of equal magnitudes, as ggml keeps it), sign included. */
function signedAbsMax(x: Float32Array, o: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** C's (int8_t) cast of a float in range: truncation toward zero. */
const trunc = Math.trunc;

/**
 * Q4_0 blocks of 32 (18 bytes): d = max / -8 with max the value of largest magnitude (stored as f16; the float32 d
 * quantises), q = min(15, (int8)(x/d + 8.5)); element j in the low nibble of byte j, element j+16 in its high nibble.
 */
function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const o = b * 32;
    const d = fr(signedAbsMax(x, o) / -8);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 18, floatToHalfBits(d), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, trunc(fr(fr(x[o + j]! * id) + 8.5)));
      const q1 = Math.min(15, trunc(fr(fr(x[o + j + 16]! * id) + 8.5)));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** min and max of x[o..o+32). */
function minMax(x: Float32Array, o: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** Q4_1 blocks of 32 (20 bytes): d = (max - min) / 15, m = min (both f16), q = min(15, (int8)((x - min)/d + 0.5)). */
function quantizeQ4_1(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 20);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const o = b * 32;
    const [min, max] = minMax(x, o);
    const d = fr(fr(max - min) / 15);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 20, floatToHalfBits(d), true);
    dv.setUint16(b * 20 + 2, floatToHalfBits(min), true);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, trunc(fr(fr(fr(x[o + j]! - min) * id) + 0.5)));
      const q1 = Math.min(15, trunc(fr(fr(fr(x[o + j + 16]! - min) * id) + 0.5)));
      out[b * 20 + 4 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/**
 * Q5_0 blocks of 32 (22 bytes: f16 d, u32 qh, 16 bytes qs): d = max / -16, q = min(31, (int8)(x/d + 16.5)); the low
 * 4 bits as Q4_0's nibbles, bit 4 of element j in bit j of qh.
 */
function quantizeQ5_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 22);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const o = b * 32;
    const d = fr(signedAbsMax(x, o) / -16);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 22, floatToHalfBits(d), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, trunc(fr(fr(x[o + j]! * id) + 16.5)));
      const q1 = Math.min(31, trunc(fr(fr(x[o + j + 16]! * id) + 16.5)));
      out[b * 22 + 6 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    dv.setUint32(b * 22 + 2, qh >>> 0, true);
  }
  return out;
}

/** Q5_1 blocks of 32 (24 bytes: f16 d, f16 m, u32 qh, 16 bytes qs): d = (max - min) / 31, m = min, q = (int8)((x - min)/d + 0.5). */
function quantizeQ5_1(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 24);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    const o = b * 32;
    const [min, max] = minMax(x, o);
    const d = fr(fr(max - min) / 31);
    const id = d !== 0 ? fr(1 / d) : 0;
    dv.setUint16(b * 24, floatToHalfBits(d), true);
    dv.setUint16(b * 24 + 2, floatToHalfBits(min), true);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, trunc(fr(fr(fr(x[o + j]! - min) * id) + 0.5)));
      const q1 = Math.min(31, trunc(fr(fr(fr(x[o + j + 16]! - min) * id) + 0.5)));
      out[b * 24 + 8 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    dv.setUint32(b * 24 + 4, qh >>> 0, true);
  }
  return out;
}

const BLOCK_32: Record<string, (x: Float32Array) => Uint8Array> = {
  Q8_0: quantizeQ8_0,
  Q4_0: quantizeQ4_0,
  Q4_1: quantizeQ4_1,
  Q5_0: quantizeQ5_0,
  Q5_1: quantizeQ5_1,
};

/** Encodes float32 values as `typeName`. `what` names the tensor in errors. */
export function quantize(x: Float32Array, typeName: string, what = 'tensor'): Uint8Array {
  switch (typeName) {
    case 'F32':
      return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
    case 'F16': {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = floatToHalfBits(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      const out = new Uint16Array(x.length);
      for (let i = 0; i < x.length; i++) out[i] = floatToBf16Bits(x[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'Q8_0':
    case 'Q4_0':
    case 'Q4_1':
    case 'Q5_0':
    case 'Q5_1':
      if (x.length % 32 !== 0) throw new KvError(`${what}: ${x.length} values is not a multiple of the ${typeName} block size 32`);
      return BLOCK_32[typeName]!(x);
    default:
      throw new KvError(`${what}: cannot quantise float32 to ${typeName}; kvmerger writes ${QUANTIZABLE_TYPES.join(', ')} (or raw bytes of any type)`);
  }
}

/** The float32 value an f16 rounds `x` to (for tests and error estimates). */
export function roundToHalf(x: number): number {
  return HALF_TO_FLOAT[floatToHalfBits(x)]!;
}
