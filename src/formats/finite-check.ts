/**
 * Finds NaN or Inf in a tensor's stored bytes as they are read (no second pass over the file): every value of the
 * float types (F32, F16, BF16, F64), and the block scales of the quantised types (their values are small integers
 * times the scales, so a value is non-finite exactly when a scale is). One comparison per value or per block.
 */
import { KvError } from '../util/errors.js';
import { ggmlTypeByName } from './ggml-types.js';

/** Byte offsets of the f16 scales in one block (d, and dmin / m / s where the type has one). */
const F16_SCALES: Record<string, readonly number[]> = {
  Q4_0: [0], Q4_1: [0, 2], Q5_0: [0], Q5_1: [0, 2], Q8_0: [0], Q8_1: [0, 2],
  Q2_K: [80, 82], Q3_K: [108], Q4_K: [0, 2], Q5_K: [0, 2], Q6_K: [208],
  IQ2_XXS: [0], IQ2_XS: [0], IQ3_XXS: [0], IQ1_S: [0], IQ4_NL: [0], IQ3_S: [0], IQ2_S: [0], IQ4_XS: [0],
};

/**
 * The first non-finite value in `bytes` (whole values or blocks of `typeName`): a value index for the float types,
 * a block index for the quantised ones; undefined when all are finite (or the type has no float fields known here).
 */
export function firstNonFinite(bytes: Uint8Array, typeName: string): { index: number; unit: 'value' | 'block' } | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (typeName) {
    case 'F32': {
      const n = bytes.byteLength >>> 2;
      if (bytes.byteOffset % 4 === 0) {
        const u = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) if ((u[i]! & 0x7f800000) === 0x7f800000) return { index: i, unit: 'value' };
      } else {
        for (let i = 0; i < n; i++) if ((dv.getUint32(i * 4, true) & 0x7f800000) === 0x7f800000) return { index: i, unit: 'value' };
      }
      return undefined;
    }
    case 'F16':
    case 'BF16': {
      const mask = typeName === 'F16' ? 0x7c00 : 0x7f80;
      const n = bytes.byteLength >>> 1;
      let from = 0;
      if (bytes.byteOffset % 4 === 0) {
        // Two values per 32-bit word: adding the exponent's lowest bit to the masked exponent carries into bit 15
        // of a half exactly when its exponent is all ones (Inf or NaN); halves cannot carry into each other.
        const pairs = n >>> 1;
        const u = new Uint32Array(bytes.buffer, bytes.byteOffset, pairs);
        const m2 = mask * 0x10001;
        const low = (mask & -mask) * 0x10001;
        let i = 0;
        for (; i < pairs; i++) if ((((u[i]! & m2) + low) & 0x80008000) !== 0) break;
        from = i * 2;
      }
      for (let i = from; i < n; i++) if ((dv.getUint16(i * 2, true) & mask) === mask) return { index: i, unit: 'value' };
      return undefined;
    }
    case 'F64': {
      const n = bytes.byteLength >>> 3;
      for (let i = 0; i < n; i++) if ((dv.getUint32(i * 8 + 4, true) & 0x7ff00000) === 0x7ff00000) return { index: i, unit: 'value' };
      return undefined;
    }
    case 'Q8_K': {
      const n = Math.floor(bytes.byteLength / 292);
      for (let b = 0; b < n; b++) if ((dv.getUint32(b * 292, true) & 0x7f800000) === 0x7f800000) return { index: b, unit: 'block' };
      return undefined;
    }
  }
  const at = F16_SCALES[typeName];
  const type = ggmlTypeByName(typeName);
  if (!at || !type) return undefined;
  const size = type.typeSize;
  const n = Math.floor(bytes.byteLength / size);
  for (let b = 0; b < n; b++) {
    for (const o of at) if ((dv.getUint16(b * size + o, true) & 0x7c00) === 0x7c00) return { index: b, unit: 'block' };
  }
  return undefined;
}

/**
 * Throws a KvError naming the tensor when `bytes` (stored values of `typeName`, starting `fromByte` bytes into the
 * tensor's data) hold a NaN or Inf.
 */
export function assertFiniteStored(bytes: Uint8Array, typeName: string, fromByte: number, where: string, tensor: string): void {
  const bad = firstNonFinite(bytes, typeName);
  if (!bad) return;
  const type = ggmlTypeByName(typeName);
  const size = type?.typeSize ?? 4;
  const index = bad.index + Math.floor(fromByte / size);
  const what = bad.unit === 'value' ? `a NaN or Inf at element ${index}` : `a NaN or Inf scale in block ${index} (elements ${index * (type?.blockSize ?? 1)}..)`;
  throw new KvError(`${where}: tensor '${tensor}' holds ${what}; the weights are corrupt: re-download or re-convert the model`);
}
