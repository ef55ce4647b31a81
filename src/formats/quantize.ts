/**
 * Float32 → stored-type encoders the writer needs: F32, F16, BF16 and Q8_0, each as ggml's reference quantiser does it.
 */
import { KvError } from '../util/errors.js';
import { floatToBf16Bits, floatToHalfBits, HALF_TO_FLOAT } from './half.js';

const fr = Math.fround;

/** Types `quantize` can produce from float32. */
export const QUANTIZABLE_TYPES: readonly string[] = ['F32', 'F16', 'BF16', 'Q8_0'];

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
      if (x.length % 32 !== 0) throw new KvError(`${what}: ${x.length} values is not a multiple of the Q8_0 block size 32`);
      return quantizeQ8_0(x);
    default:
      throw new KvError(`${what}: cannot quantise float32 to ${typeName}; kvmerger writes ${QUANTIZABLE_TYPES.join(', ')} (or raw bytes of any type)`);
  }
}

/** The float32 value an f16 rounds `x` to (for tests and error estimates). */
export function roundToHalf(x: number): number {
  return HALF_TO_FLOAT[floatToHalfBits(x)]!;
}
