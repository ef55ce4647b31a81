/**
 * Dequantisation of ggml tensor data to float32, written from the ggml block definitions.
 *
 * Arithmetic is float32 step by step (Math.fround after each multiply and add) in the order of the reference
 * (gguf-py's quants.py), so results are bit-identical to it: e.g. Q4_K is `fround(fround(d*sc) * q) - fround(dmin*m)`.
 * A product of two float32s is exact in float64, so one fround gives the correctly rounded float32 product.
 */
import { KvError } from '../util/errors.js';
import { ggmlTypeByName } from './ggml-types.js';
import { HALF_TO_FLOAT, bf16BitsToFloat } from './half.js';

const fr = Math.fround;

/** Types kvmerger can dequantise. */
export const DEQUANTIZABLE_TYPES: readonly string[] = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q2_K',
  'Q3_K',
  'Q4_K',
  'Q5_K',
  'Q6_K',
];

type Kernel = (src: Uint8Array, dv: DataView, nBlocks: number, out: Float32Array) => void;

function h(dv: DataView, off: number): number {
  return HALF_TO_FLOAT[dv.getUint16(off, true)]!;
}

const f32Kernel: Kernel = (_src, dv, n, out) => {
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
};

const f16Kernel: Kernel = (_src, dv, n, out) => {
  for (let i = 0; i < n; i++) out[i] = HALF_TO_FLOAT[dv.getUint16(i * 2, true)]!;
};

const bf16Kernel: Kernel = (_src, dv, n, out) => {
  for (let i = 0; i < n; i++) out[i] = bf16BitsToFloat(dv.getUint16(i * 2, true));
};

// Q8_0: { f16 d; int8 qs[32] } → d * q
const q8_0: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 34;
    const d = h(dv, o);
    for (let j = 0; j < 32; j++) out[b * 32 + j] = fr(d * ((src[o + 2 + j]! << 24) >> 24));
  }
};

// Q4_0: { f16 d; u8 qs[16] } → element j: low nibble of qs[j], element j+16: high nibble; value (q - 8) * d
const q4_0: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 18;
    const d = h(dv, o);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j]!;
      out[y + j] = fr(d * ((q & 15) - 8));
      out[y + j + 16] = fr(d * ((q >> 4) - 8));
    }
  }
};

// Q4_1: { f16 d; f16 m; u8 qs[16] } → q * d + m
const q4_1: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 20;
    const d = h(dv, o);
    const m = h(dv, o + 2);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 4 + j]!;
      out[y + j] = fr(fr(d * (q & 15)) + m);
      out[y + j + 16] = fr(fr(d * (q >> 4)) + m);
    }
  }
};

// Q5_0: { f16 d; u32 qh; u8 qs[16] } → bit j of qh is the 5th bit of element j; value (q - 16) * d
const q5_0: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 22;
    const d = h(dv, o);
    const qh = dv.getUint32(o + 2, true);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 6 + j]!;
      const lo = (q & 15) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[y + j] = fr(d * (lo - 16));
      out[y + j + 16] = fr(d * (hi - 16));
    }
  }
};

// Q5_1: { f16 d; f16 m; u32 qh; u8 qs[16] } → q * d + m
const q5_1: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 24;
    const d = h(dv, o);
    const m = h(dv, o + 2);
    const qh = dv.getUint32(o + 4, true);
    const y = b * 32;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 8 + j]!;
      const lo = (q & 15) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[y + j] = fr(fr(d * lo) + m);
      out[y + j + 16] = fr(fr(d * hi) + m);
    }
  }
};

// Q2_K: { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin } over 256 elements in 16 groups of 16.
// Element i = 128*half + 32*shift + l takes bits (2*shift, 2*shift+1) of qs[32*half + l];
// group g = i / 16 has scale (scales[g] & 15) * d and min (scales[g] >> 4) * dmin: value = q * scale - min.
const q2_K: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 84;
    const d = h(dv, o + 80);
    const dmin = h(dv, o + 82);
    const y = b * 256;
    for (let g = 0; g < 16; g++) {
      const sc = src[o + g]!;
      const dl = fr(d * (sc & 15));
      const ml = fr(dmin * (sc >> 4));
      for (let k = 0; k < 16; k++) {
        const i = g * 16 + k;
        const half = i >> 7;
        const shift = (i >> 5) & 3;
        const l = i & 31;
        const q = (src[o + 16 + half * 32 + l]! >> (2 * shift)) & 3;
        out[y + i] = fr(fr(dl * q) - ml);
      }
    }
  }
};

// Q3_K: { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d } over 256 elements in 16 groups of 16.
// Low 2 bits as Q2_K; the high bit of element i = 32*s + l is bit s of hmask[l]; a clear high bit subtracts 4.
// 6-bit scales: low 4 bits from scales[g] (g < 8) or scales[g-8] >> 4; high 2 bits from scales[8 + g%4] >> 2*(g/4).
const q3_K: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 110;
    const d = h(dv, o + 108);
    const sc = o + 96;
    const y = b * 256;
    for (let g = 0; g < 16; g++) {
      const low = g < 8 ? src[sc + g]! & 15 : src[sc + g - 8]! >> 4;
      const high = (src[sc + 8 + (g & 3)]! >> (2 * (g >> 2))) & 3;
      const dl = fr(d * ((low | (high << 4)) - 32));
      for (let k = 0; k < 16; k++) {
        const i = g * 16 + k;
        const half = i >> 7;
        const shift = (i >> 5) & 3;
        const l = i & 31;
        const ql = (src[o + 32 + half * 32 + l]! >> (2 * shift)) & 3;
        const hb = (src[o + l]! >> (i >> 5)) & 1;
        out[y + i] = fr(dl * (ql - (hb ? 0 : 4)));
      }
    }
  }
};

/** The 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K's 12 packed scale bytes at `s`. */
function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j]! & 63, src[s + j + 4]! & 63];
  return [(src[s + j + 4]! & 15) | ((src[s + j - 4]! >> 6) << 4), (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4)];
}

// Q4_K: { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } over 256 elements in 8 sub-blocks of 32.
// Element i = 64*g + 32*k + l is nibble k of qs[32*g + l]; sub-block j = i / 32: value = q * (d*sc_j) - dmin*m_j.
const q4_K: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 144;
    const d = h(dv, o);
    const dmin = h(dv, o + 2);
    const y = b * 256;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(src, o + 4, j);
      const dl = fr(d * sc);
      const ml = fr(dmin * m);
      const g = j >> 1;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) {
        const q = (src[o + 16 + g * 32 + l]! >> shift) & 15;
        out[y + j * 32 + l] = fr(fr(dl * q) - ml);
      }
    }
  }
};

// Q5_K: { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }: as Q4_K plus a 5th bit, bit j of qh[l] for
// element 32*j + l.
const q5_K: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 176;
    const d = h(dv, o);
    const dmin = h(dv, o + 2);
    const y = b * 256;
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(src, o + 4, j);
      const dl = fr(d * sc);
      const ml = fr(dmin * m);
      const g = j >> 1;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) {
        const q = ((src[o + 48 + g * 32 + l]! >> shift) & 15) | (((src[o + 16 + l]! >> j) & 1) << 4);
        out[y + j * 32 + l] = fr(fr(dl * q) - ml);
      }
    }
  }
};

// Q6_K: { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } over 256 elements in 16 groups of 16.
// Element i = 128*h + 64*k + l (l < 64): low 4 bits = nibble k of ql[64*h + l];
// element i = 128*h + 32*s + l (l < 32): high 2 bits = bits 2s..2s+1 of qh[32*h + l]; value (q - 32) * d * scale.
const q6_K: Kernel = (src, dv, nb, out) => {
  for (let b = 0; b < nb; b++) {
    const o = b * 210;
    const d = h(dv, o + 208);
    const y = b * 256;
    for (let g = 0; g < 16; g++) {
      const dl = fr(d * ((src[o + 192 + g]! << 24) >> 24));
      for (let k = 0; k < 16; k++) {
        const i = g * 16 + k;
        const half = i >> 7;
        const r = i & 127;
        const lo = (src[o + half * 64 + (r & 63)]! >> ((r >> 6) * 4)) & 15;
        const hi = (src[o + 128 + half * 32 + (r & 31)]! >> ((r >> 5) * 2)) & 3;
        out[y + i] = fr(dl * ((lo | (hi << 4)) - 32));
      }
    }
  }
};

const KERNELS: Record<string, Kernel> = {
  F32: f32Kernel,
  F16: f16Kernel,
  BF16: bf16Kernel,
  Q8_0: q8_0,
  Q4_0: q4_0,
  Q4_1: q4_1,
  Q5_0: q5_0,
  Q5_1: q5_1,
  Q2_K: q2_K,
  Q3_K: q3_K,
  Q4_K: q4_K,
  Q5_K: q5_K,
  Q6_K: q6_K,
};

/** True when kvmerger can dequantise tensors of this type. */
export function canDequantize(typeName: string): boolean {
  return typeName in KERNELS;
}

/**
 * Decodes `elements` values of type `typeName` from `data` (the tensor's raw bytes). `what` names the tensor in
 * errors ("model.gguf: tensor 'blk.0.attn_q.weight'"). `into`: write the values there (length `elements`) instead of
 * a new array.
 */
export function dequantize(data: Uint8Array, typeName: string, elements: number, what = 'tensor', into?: Float32Array): Float32Array {
  const kernel = KERNELS[typeName];
  const type = ggmlTypeByName(typeName);
  if (!kernel || !type) {
    throw new KvError(
      `${what} has type ${typeName}, which kvmerger cannot dequantise; supported: ${DEQUANTIZABLE_TYPES.join(', ')}; re-quantise the file with one of them`,
    );
  }
  if (elements % type.blockSize !== 0) {
    throw new KvError(`${what}: ${elements} elements is not a multiple of the ${typeName} block size ${type.blockSize}`);
  }
  const nBlocks = elements / type.blockSize;
  if (data.byteLength < nBlocks * type.typeSize) {
    throw new KvError(`${what}: ${data.byteLength} bytes of data, ${typeName} needs ${nBlocks * type.typeSize} for ${elements} values`);
  }
  if (into && into.length !== elements) throw new RangeError(`${what}: destination holds ${into.length} values, not ${elements}`);
  const out = into ?? new Float32Array(elements);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  kernel(data, dv, type.blockSize === 1 ? elements : nBlocks, out);
  return out;
}
