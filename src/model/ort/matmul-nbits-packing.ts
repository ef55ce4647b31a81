/**
 * Repacks GGUF quantised matrices, losslessly, into the layout of onnxruntime's `MatMulNBits` (com.microsoft), so the
 * fast path multiplies by the weights in their own quantisation instead of an F32 copy.
 *
 * Every GGUF block type below stores, per group of `group` consecutive weights of a row, an integer code c per weight,
 * a scale s and (for some types) an additive offset o: w = s·c + o. MatMulNBits computes w = s·(u − Z) with unsigned
 * u of `bits` bits packed low-first along K and the default zero point Z = 2^(bits−1) (integer zero points are as
 * fast; float ones take a slow unpacked path, measured 50× slower, so none are used). So we store u = c + shift and
 * move what is left into an offset o' = o − s·(shift − Z), which the graph adds as blocksum(x) · o'ᵀ, a small
 * [T, K/group] × [K/group, N] product (see transformer-graph.ts). Types whose codes are centred need no offset.
 *
 * | GGUF type | codes c | group | bits | shift | offset o' |
 * |---|---|---|---|---|---|
 * | Q4_0 | q − 8 ∈ [−8, 7] | 32 | 4 | 8 | — |
 * | Q4_1 | q ∈ [0, 15] | 32 | 4 | 0 | m + 8d |
 * | Q5_0 | q − 16 ∈ [−16, 15] | 32 | 8 | 128 | — |
 * | Q5_1 | q ∈ [0, 31] | 32 | 8 | 128 | m |
 * | Q8_0 | q ∈ [−128, 127] | 32 | 8 | 128 | — |
 * | Q2_K | q ∈ [0, 3] | 16 | 4 | 8 | −dmin·m |
 * | Q3_K | q − 4 ∈ [−4, 3] | 16 | 4 | 8 | — |
 * | Q4_K | q ∈ [0, 15] | 32 | 4 | 0 | 8·d·sc − dmin·m |
 * | Q5_K | q ∈ [0, 31] | 32 | 8 | 128 | −dmin·m |
 * | Q6_K | q − 32 ∈ [−32, 31] | 16 | 8 | 128 | — |
 *
 * Scales are the products the dequantiser forms (float32 of d·sc), so the packed matrix equals the dequantised one up
 * to the rounding of s·(u − Z) + o' against the dequantiser's own rounding (a few ulps).
 */
import { HALF_TO_FLOAT } from '../../formats/half.js';
import { KvError } from '../../util/errors.js';

export interface MatMulNBitsLayout {
  bits: 4 | 8;
  /** Weights per group (MatMulNBits' block_size). */
  group: 16 | 32;
  /** Whether the type needs the additive offset term. */
  offset: boolean;
  /** Elements and bytes of one GGUF block. */
  blockElements: number;
  blockBytes: number;
}

const LAYOUTS: Record<string, MatMulNBitsLayout> = {
  Q4_0: { bits: 4, group: 32, offset: false, blockElements: 32, blockBytes: 18 },
  Q4_1: { bits: 4, group: 32, offset: true, blockElements: 32, blockBytes: 20 },
  Q5_0: { bits: 8, group: 32, offset: false, blockElements: 32, blockBytes: 22 },
  Q5_1: { bits: 8, group: 32, offset: true, blockElements: 32, blockBytes: 24 },
  Q8_0: { bits: 8, group: 32, offset: false, blockElements: 32, blockBytes: 34 },
  Q2_K: { bits: 4, group: 16, offset: true, blockElements: 256, blockBytes: 84 },
  Q3_K: { bits: 4, group: 16, offset: false, blockElements: 256, blockBytes: 110 },
  Q4_K: { bits: 4, group: 32, offset: true, blockElements: 256, blockBytes: 144 },
  Q5_K: { bits: 8, group: 32, offset: true, blockElements: 256, blockBytes: 176 },
  Q6_K: { bits: 8, group: 16, offset: false, blockElements: 256, blockBytes: 210 },
};

/** The GGUF types the fast path runs quantised (the others are expanded to F32). */
export const MATMUL_NBITS_TYPES: readonly string[] = Object.keys(LAYOUTS);

/** The MatMulNBits layout of a GGUF type, or undefined when the type is not packable. */
export function matMulNBitsLayout(type: string): MatMulNBitsLayout | undefined {
  return LAYOUTS[type];
}

/** Bytes of one packed row of K weights (MatMulNBits' B is [N, K / group, group · bits / 8]). */
export function packedRowBytes(layout: MatMulNBitsLayout, K: number): number {
  return (K * layout.bits) / 8;
}

/** Where one matrix's packed rows go: row n of the matrix is written at row `rowOffset + n` of each buffer. */
export interface PackTarget {
  /** [N_total, K / group, group · bits / 8] */
  data: Uint8Array;
  /** [N_total, K / group] */
  scales: Float32Array;
  /** [N_total, K / group]; required when the layout has an offset (left as is otherwise). */
  offsets?: Float32Array;
  rowOffset: number;
}

// Decoders: one GGUF block → codes (already shifted to u) and per-group scales and offsets.
type BlockDecoder = (src: Uint8Array, dv: DataView, o: number, u: Uint8Array, s: Float32Array, off: Float32Array) => void;

const fr = Math.fround;
const half = (dv: DataView, at: number): number => HALF_TO_FLOAT[dv.getUint16(at, true)]!;

function scaleMinK4(src: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [src[s + j]! & 63, src[s + j + 4]! & 63];
  return [(src[s + j + 4]! & 15) | ((src[s + j - 4]! >> 6) << 4), (src[s + j + 4]! >> 4) | ((src[s + j]! >> 6) << 4)];
}

const DECODERS: Record<string, BlockDecoder> = {
  Q4_0(src, dv, o, u, s) {
    s[0] = half(dv, o);
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j]!;
      u[j] = q & 15; // c = q − 8, u = c + 8
      u[j + 16] = q >> 4;
    }
  },
  Q4_1(src, dv, o, u, s, off) {
    const d = half(dv, o);
    s[0] = d;
    off[0] = half(dv, o + 2) + 8 * d;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 4 + j]!;
      u[j] = q & 15;
      u[j + 16] = q >> 4;
    }
  },
  Q5_0(src, dv, o, u, s) {
    s[0] = half(dv, o);
    const qh = dv.getUint32(o + 2, true);
    for (let j = 0; j < 16; j++) {
      const q = src[o + 6 + j]!;
      u[j] = ((q & 15) | (((qh >>> j) & 1) << 4)) + 112; // c = q − 16, u = c + 128
      u[j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + 112;
    }
  },
  Q5_1(src, dv, o, u, s, off) {
    s[0] = half(dv, o);
    off[0] = half(dv, o + 2);
    const qh = dv.getUint32(o + 4, true);
    for (let j = 0; j < 16; j++) {
      const q = src[o + 8 + j]!;
      u[j] = ((q & 15) | (((qh >>> j) & 1) << 4)) + 128;
      u[j + 16] = ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) + 128;
    }
  },
  Q8_0(src, dv, o, u, s) {
    s[0] = half(dv, o);
    for (let j = 0; j < 32; j++) u[j] = src[o + 2 + j]! ^ 0x80; // int8 c → c + 128
  },
  Q2_K(src, dv, o, u, s, off) {
    const d = half(dv, o + 80);
    const dmin = half(dv, o + 82);
    for (let g = 0; g < 16; g++) {
      const sc = src[o + g]!;
      s[g] = fr(d * (sc & 15));
      off[g] = -fr(dmin * (sc >> 4));
    }
    for (let i = 0; i < 256; i++) u[i] = ((src[o + 16 + (i >> 7) * 32 + (i & 31)]! >> (2 * ((i >> 5) & 3))) & 3) + 8;
  },
  Q3_K(src, dv, o, u, s) {
    const d = half(dv, o + 108);
    const sc = o + 96;
    for (let g = 0; g < 16; g++) {
      const low = g < 8 ? src[sc + g]! & 15 : src[sc + g - 8]! >> 4;
      const high = (src[sc + 8 + (g & 3)]! >> (2 * (g >> 2))) & 3;
      s[g] = fr(d * ((low | (high << 4)) - 32));
    }
    for (let i = 0; i < 256; i++) {
      const ql = (src[o + 32 + (i >> 7) * 32 + (i & 31)]! >> (2 * ((i >> 5) & 3))) & 3;
      const hb = (src[o + (i & 31)]! >> (i >> 5)) & 1;
      u[i] = ql + (hb ? 8 : 4); // c = ql − (hb ? 0 : 4), u = c + 8
    }
  },
  Q4_K(src, dv, o, u, s, off) {
    const d = half(dv, o);
    const dmin = half(dv, o + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(src, o + 4, j);
      s[j] = fr(d * sc);
      off[j] = fr(8 * s[j]!) - fr(dmin * m);
      const base = o + 16 + (j >> 1) * 32;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) u[j * 32 + l] = (src[base + l]! >> shift) & 15;
    }
  },
  Q5_K(src, dv, o, u, s, off) {
    const d = half(dv, o);
    const dmin = half(dv, o + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, m] = scaleMinK4(src, o + 4, j);
      s[j] = fr(d * sc);
      off[j] = -fr(dmin * m);
      const base = o + 48 + (j >> 1) * 32;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) u[j * 32 + l] = (((src[base + l]! >> shift) & 15) | (((src[o + 16 + l]! >> j) & 1) << 4)) + 128;
    }
  },
  Q6_K(src, dv, o, u, s) {
    const d = half(dv, o + 208);
    for (let g = 0; g < 16; g++) s[g] = fr(d * ((src[o + 192 + g]! << 24) >> 24));
    for (let i = 0; i < 256; i++) {
      const h = i >> 7;
      const r = i & 127;
      const lo = (src[o + h * 64 + (r & 63)]! >> ((r >> 6) * 4)) & 15;
      const hi = (src[o + 128 + h * 32 + (r & 31)]! >> ((r >> 5) * 2)) & 3;
      u[i] = (lo | (hi << 4)) + 96; // c = q − 32, u = c + 128
    }
  },
};

/**
 * Packs the row-major [N, K] matrix stored as `type` in `bytes` (GGUF's order: row after row, blocks along K) into
 * `target`. K must be a multiple of the type's block size (GGUF guarantees it for a valid file).
 */
export function packMatMulNBits(type: string, bytes: Uint8Array, N: number, K: number, target: PackTarget, what = 'tensor'): void {
  const layout = LAYOUTS[type];
  const decode = DECODERS[type];
  if (!layout || !decode) throw new KvError(`${what}: type ${type} cannot run quantised; the fast path packs ${MATMUL_NBITS_TYPES.join(', ')}`);
  if (K % layout.blockElements !== 0) throw new KvError(`${what}: row length ${K} is not a multiple of ${type}'s block of ${layout.blockElements}`);
  const blocksPerRow = K / layout.blockElements;
  if (bytes.length !== N * blocksPerRow * layout.blockBytes) {
    throw new KvError(`${what}: ${bytes.length} bytes for a [${N}, ${K}] ${type} matrix that needs ${N * blocksPerRow * layout.blockBytes}; the file is corrupt`);
  }
  if (layout.offset && !target.offsets) throw new Error(`packMatMulNBits: ${type} needs an offsets buffer`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groupsPerBlock = layout.blockElements / layout.group;
  const groupsPerRow = K / layout.group;
  const rowBytes = packedRowBytes(layout, K);
  if (type === 'Q4_0' || type === 'Q8_0') return packSymmetric32(type, bytes, dv, N, blocksPerRow, rowBytes, target);
  const u = new Uint8Array(layout.blockElements);
  const s = new Float32Array(groupsPerBlock);
  const off = new Float32Array(groupsPerBlock);
  const { data, scales, offsets } = target;
  for (let n = 0; n < N; n++) {
    const row = target.rowOffset + n;
    let dst = row * rowBytes;
    for (let b = 0; b < blocksPerRow; b++) {
      decode(bytes, dv, (n * blocksPerRow + b) * layout.blockBytes, u, s, off);
      const g0 = row * groupsPerRow + b * groupsPerBlock;
      for (let g = 0; g < groupsPerBlock; g++) scales[g0 + g] = s[g]!;
      if (offsets && layout.offset) for (let g = 0; g < groupsPerBlock; g++) offsets[g0 + g] = off[g]!;
      if (layout.bits === 8) {
        data.set(u, dst);
        dst += layout.blockElements;
      } else {
        for (let j = 0; j < layout.blockElements; j += 2) data[dst++] = u[j]! | (u[j + 1]! << 4);
      }
    }
  }
}

/**
 * The two most common types without the per-block decoder (load time of a 7B file): Q4_0's nibbles reordered from
 * GGUF's (j, j + 16) pairs to MatMulNBits' (2i, 2i + 1) pairs, Q8_0's int8 codes offset by 128.
 */
function packSymmetric32(type: 'Q4_0' | 'Q8_0', src: Uint8Array, dv: DataView, N: number, blocksPerRow: number, rowBytes: number, target: PackTarget): void {
  const { data, scales } = target;
  const blockBytes = type === 'Q4_0' ? 18 : 34;
  for (let n = 0; n < N; n++) {
    const row = target.rowOffset + n;
    let dst = row * rowBytes;
    let o = n * blocksPerRow * blockBytes;
    let g = row * blocksPerRow;
    for (let b = 0; b < blocksPerRow; b++, o += blockBytes) {
      scales[g++] = HALF_TO_FLOAT[dv.getUint16(o, true)]!;
      if (type === 'Q8_0') {
        for (let j = 0; j < 32; j++) data[dst++] = src[o + 2 + j]! ^ 0x80;
      } else {
        // Packed byte i holds elements 2i (low) and 2i + 1 (high); element j < 16 is qs[j] & 15, j ≥ 16 is qs[j − 16] >> 4.
        for (let i = 0; i < 8; i++) {
          const a = src[o + 2 + 2 * i]!;
          const c = src[o + 3 + 2 * i]!;
          data[dst + i] = (a & 15) | ((c & 15) << 4);
          data[dst + 8 + i] = (a >> 4) | (c & 0xf0);
        }
        dst += 16;
      }
    }
  }
}
