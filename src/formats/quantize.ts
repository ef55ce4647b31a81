/**
 * Float32 → stored-type encoders the writer needs: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, each as ggml's
 * reference quantiser (ggml-quants.c, quantize_row_*_ref) does it, in its order of float32 operations; and the K-quants
 * Q4_K, Q5_K and Q6_K (without an importance matrix, as llama-quantize makes them without --imatrix), which
 * `kvmerger convert --type q4_k_m` and `--quantize q4_k_m` mix as llama.cpp's Q4_K_M does.
 */
import { KvError } from '../util/errors.js';
import { floatToBf16Bits, floatToHalfBits, HALF_TO_FLOAT } from './half.js';

const fr = Math.fround;

/** Types `quantize` can produce from float32. */
export const QUANTIZABLE_TYPES: readonly string[] = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'];

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

/**
 * ggml's nearest_int (round half to even through the float32 magic 1.5·2^23) of a float32 value x: the same integer
 * as rounding x + 1.5·2^52 in float64 (both grids have spacing 1 there and round ties to even; x + 1.5·2^23 is exact in
 * float64 before its rounding to float32), one rounding fewer. Beyond 2^22, where the float32 trick drifts, every
 * caller clamps to a few bits, to which both give the same code.
 */
function nearestInt(x: number): number {
  return x + 6755399441055744 - 6755399441055744;
}

const GROUP_MAX_EPS = 1e-15;

/**
 * Scratch of the searches (module-wide, so that no block allocates): two sub-blocks' weights, x - min, candidate codes,
 * and each one's state in LANE (min, max, sum of weights, weighted sum of x, scale, best error, max - min, flat);
 * Q6_K's weight terms x² and x³.
 */
const W2 = new Float64Array(64);
const XM2 = new Float64Array(64);
const LAUX2 = new Float64Array(64);
const LANE = new Float64Array(16);
/** Per sub-block, exact in float64 (for errorFloor): Σw, Σw·x, Σw·x², max |x|. */
const EXACT = new Float64Array(8);
const LAUX = new Float64Array(32);
const WX2 = new Float64Array(32);
const WX3 = new Float64Array(32);

/** make_qkx2_quants' start for one sub-block (lane 0 or 1): min/max, sums, the first codes (to L) and their error. */
function qkx2Start(lane: number, n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): void {
  const w0 = lane * 32;
  const s = lane * 8;
  let min = x[xo]!;
  let max = x[xo]!;
  let sumW = W2[w0]!;
  let sumX = fr(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const v = x[xo + i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = fr(sumW + W2[w0 + i]!);
    sumX = fr(sumX + fr(W2[w0 + i]! * v));
  }
  if (min > 0) min = 0;
  let c = 0;
  let f = 0;
  let g = 0;
  let ax = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const wi = W2[w0 + i]!;
    c += wi;
    f += wi * v;
    g += wi * v * v;
    ax = Math.max(ax, Math.abs(v));
  }
  EXACT[lane * 4] = c;
  EXACT[lane * 4 + 1] = f;
  EXACT[lane * 4 + 2] = g;
  EXACT[lane * 4 + 3] = ax;
  if (max === min) {
    L.fill(0, lo, lo + n);
    LANE.fill(0, s, s + 8);
    LANE[s] = min;
    LANE[s + 6] = 1; // a range the candidates can divide by; the lane is never evaluated
    LANE[s + 7] = 1;
    return;
  }
  const range = fr(max - min);
  for (let i = 0; i < n; i++) XM2[w0 + i] = fr(x[xo + i]! - min);
  const iscale = fr(nmax / range);
  const scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const r = nearestInt(fr(iscale * XM2[w0 + i]!));
    const l = r < 0 ? 0 : r > nmax ? nmax : r;
    L[lo + i] = l;
    const diff = fr(fr(fr(scale * l) + min) - x[xo + i]!);
    bestError = fr(bestError + fr(W2[w0 + i]! * fr(diff * diff)));
  }
  LANE[s] = min;
  LANE[s + 1] = max;
  LANE[s + 2] = sumW;
  LANE[s + 3] = sumX;
  LANE[s + 4] = scale;
  LANE[s + 5] = bestError;
  LANE[s + 6] = range;
  LANE[s + 7] = 0;
}

const U = 2 ** -24;

/**
 * A lower bound on the float32 error sum ggml computes for scale s and minimum m (Σ fr(w·fr(d²)) in order, with
 * d = fr(fr(fr(s·l) + m) - x)), from float64 sums over the codes (dA = Σw·l², dB = Σw·l, dD = Σw·l·x, exact products)
 * and the sub-block's EXACT sums (c = Σw, f = Σw·x, g = Σw·x²); `k` = |s|·nmax + |m| + max|x|. The exact error is
 * E = s²·dA + 2sm·dB + m²·c - 2s·dD - 2m·f + g (up to 1e-13 of its terms' sizes in float64). Each float32 d is within
 * e = 3.01·2⁻²⁴·k of the exact one, so d² ≥ de² - 2e·|de| and Σw·d² ≥ E - 2e·√(c·E) (Cauchy-Schwarz); the roundings
 * of d², of w·d² and of the 31 additions lose at most a factor 1 - 33·2⁻²⁴ of that sum of non-negative terms.
 */
function errorFloor(s: number, m: number, dA: number, dB: number, dD: number, lane: number, k: number): number {
  const c = EXACT[lane * 4]!;
  const f = EXACT[lane * 4 + 1]!;
  const g = EXACT[lane * 4 + 2]!;
  const t1 = s * s * dA;
  const t2 = 2 * s * m * dB;
  const t3 = m * m * c;
  const t4 = 2 * s * dD;
  const t5 = 2 * m * f;
  const E = t1 + t2 + t3 - t4 - t5 + g;
  const slack = 1e-13 * (Math.abs(t1) + Math.abs(t2) + t3 + Math.abs(t4) + Math.abs(t5) + g);
  const low = E - slack;
  if (low <= 0) return 0;
  const e = 3.01 * U * k;
  const floor = low - 2 * e * Math.sqrt(c * (E + slack)) - c * e * e;
  return floor <= 0 ? 0 : floor * (1 - 40 * U);
}

/**
 * ggml's make_qkx2_quants for two sub-blocks at once (x[xa..xa+32) and x[xb..xb+32), weights in W2[0..32) and
 * W2[32..64), codes to L[la..] and L[lb..], scale and -min to LANE[4], -LANE[0] and LANE[12], -LANE[8]): for each of
 * nstep + 1 candidate scales, the codes, the least-squares scale and minimum for them, and the weighted squared error;
 * the best candidate is kept. The two searches are independent; running them in the same loops lets the CPU overlap
 * their float32 chains (each sum must be added in ggml's order, one rounding at a time, so one sub-block alone waits on
 * each addition).
 *
 * Each sub-block gets ggml's float32 operations in ggml's order, with three shortcuts that cannot change the result: a
 * candidate whose codes equal the previous candidate's has the same sums and error (it was taken, so its error is
 * not below itself, or it was not and nothing changed since), so it is not evaluated; a candidate whose error has a
 * lower bound (errorFloor) at or above the best error is not summed; and the error sum, of terms ≥ 0, never falls, so
 * it stops once it reaches the best error.
 */
function makeQkx2QuantsPair(nmax: number, x: Float32Array, xa: number, xb: number, L: Uint8Array, la: number, lb: number, rmin: number, rdelta: number, nstep: number): void {
  const n = 32;
  qkx2Start(0, n, nmax, x, xa, L, la);
  qkx2Start(1, n, nmax, x, xb, L, lb);
  let minA = LANE[0]!, scaleA = LANE[4]!, bestA = LANE[5]!, rangeA = LANE[6]!;
  let minB = LANE[8]!, scaleB = LANE[12]!, bestB = LANE[13]!, rangeB = LANE[14]!;
  const maxA = LANE[1]!, sumWA = LANE[2]!, sumXA = LANE[3]!, flatA = LANE[7] === 1;
  const maxB = LANE[9]!, sumWB = LANE[10]!, sumXB = LANE[11]!, flatB = LANE[15] === 1;
  let havePrevious = false;
  for (let is = 0; is <= nstep; is++) {
    const t = fr(fr(rmin + fr(rdelta * is)) + nmax);
    const iA = fr(t / rangeA);
    const iB = fr(t / rangeB);
    let sameA = havePrevious;
    let sameB = havePrevious;
    for (let i = 0; i < n; i++) {
      const rA = nearestInt(fr(iA * XM2[i]!));
      const lA = rA < 0 ? 0 : rA > nmax ? nmax : rA;
      if (lA !== LAUX2[i]) {
        LAUX2[i] = lA;
        sameA = false;
      }
      const rB = nearestInt(fr(iB * XM2[32 + i]!));
      const lB = rB < 0 ? 0 : rB > nmax ? nmax : rB;
      if (lB !== LAUX2[32 + i]) {
        LAUX2[32 + i] = lB;
        sameB = false;
      }
    }
    havePrevious = true;
    const evalA = !sameA && !flatA;
    const evalB = !sameB && !flatB;
    if (!evalA && !evalB) continue;
    let sumLA = 0, sumL2A = 0, sumXLA = 0, dAA = 0, dBA = 0, dDA = 0;
    let sumLB = 0, sumL2B = 0, sumXLB = 0, dAB = 0, dBB = 0, dDB = 0;
    for (let i = 0; i < n; i++) {
      const lA = LAUX2[i]!;
      const xA = x[xa + i]!;
      const wA = W2[i]! * lA; // exact in float64: a float32 times a small integer
      const wlA = fr(wA);
      sumLA = fr(sumLA + wlA);
      sumL2A = fr(sumL2A + fr(wlA * lA));
      sumXLA = fr(sumXLA + fr(wlA * xA));
      dBA += wA;
      dAA += wA * lA;
      dDA += wA * xA;
      const lB = LAUX2[32 + i]!;
      const xB = x[xb + i]!;
      const wB = W2[32 + i]! * lB;
      const wlB = fr(wB);
      sumLB = fr(sumLB + wlB);
      sumL2B = fr(sumL2B + fr(wlB * lB));
      sumXLB = fr(sumXLB + fr(wlB * xB));
      dBB += wB;
      dAB += wB * lB;
      dDB += wB * xB;
    }
    const DA = fr(fr(sumWA * sumL2A) - fr(sumLA * sumLA));
    const DB = fr(fr(sumWB * sumL2B) - fr(sumLB * sumLB));
    const okA = evalA && DA > 0;
    const okB = evalB && DB > 0;
    if (!okA && !okB) continue;
    let thisScaleA = 0, thisMinA = 0, thisScaleB = 0, thisMinB = 0;
    if (okA) {
      thisScaleA = fr(fr(fr(sumWA * sumXLA) - fr(sumXA * sumLA)) / DA);
      thisMinA = fr(fr(fr(sumL2A * sumXA) - fr(sumLA * sumXLA)) / DA);
      if (thisMinA > 0) {
        thisMinA = 0;
        thisScaleA = fr(sumXLA / sumL2A);
      }
    }
    if (okB) {
      thisScaleB = fr(fr(fr(sumWB * sumXLB) - fr(sumXB * sumLB)) / DB);
      thisMinB = fr(fr(fr(sumL2B * sumXB) - fr(sumLB * sumXLB)) / DB);
      if (thisMinB > 0) {
        thisMinB = 0;
        thisScaleB = fr(sumXLB / sumL2B);
      }
    }
    let curA = 0;
    let curB = 0;
    // a candidate whose error cannot fall below the best one's is not summed
    let doneA = !okA || errorFloor(thisScaleA, thisMinA, dAA, dBA, dDA, 0, Math.abs(thisScaleA) * nmax + Math.abs(thisMinA) + EXACT[3]!) >= bestA;
    let doneB = !okB || errorFloor(thisScaleB, thisMinB, dAB, dBB, dDB, 1, Math.abs(thisScaleB) * nmax + Math.abs(thisMinB) + EXACT[7]!) >= bestB;
    for (let i = 0; i < n && !(doneA && doneB); i++) {
      if (!doneA) {
        const diff = fr(fr(fr(thisScaleA * LAUX2[i]!) + thisMinA) - x[xa + i]!);
        curA = fr(curA + fr(W2[i]! * fr(diff * diff)));
        if (curA >= bestA) doneA = true;
      }
      if (!doneB) {
        const diff = fr(fr(fr(thisScaleB * LAUX2[32 + i]!) + thisMinB) - x[xb + i]!);
        curB = fr(curB + fr(W2[32 + i]! * fr(diff * diff)));
        if (curB >= bestB) doneB = true;
      }
    }
    // a search that ran to the end without reaching its best error found a better candidate
    if (okA && !doneA) {
      for (let i = 0; i < n; i++) L[la + i] = LAUX2[i]!;
      bestA = curA;
      scaleA = thisScaleA;
      minA = thisMinA;
      rangeA = fr(maxA - minA); // ggml's later candidates start from the new minimum
      for (let i = 0; i < n; i++) XM2[i] = fr(x[xa + i]! - minA);
    }
    if (okB && !doneB) {
      for (let i = 0; i < n; i++) L[lb + i] = LAUX2[32 + i]!;
      bestB = curB;
      scaleB = thisScaleB;
      minB = thisMinB;
      rangeB = fr(maxB - minB);
      for (let i = 0; i < n; i++) XM2[32 + i] = fr(x[xb + i]! - minB);
    }
  }
  LANE[4] = scaleA;
  LANE[0] = minA;
  LANE[12] = scaleB;
  LANE[8] = minB;
}

/**
 * Q4_K (144 bytes per 256: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles) and Q5_K (176:
 * plus 32 bytes of fifth bits), as ggml's quantize_row_q4_K_ref / q5_K_ref: per 32 values a scale and minimum from
 * make_qkx2_quants (weights √(mean x²) + |x|), both quantised to 6 bits against the block's largest, then the codes
 * recomputed from the stored scales.
 */
function quantizeQ45K(x: Float32Array, bits: 4 | 5): Uint8Array {
  const nb = x.length / 256;
  const size = bits === 4 ? 144 : 176;
  const nmax = bits === 4 ? 15 : 31;
  const out = new Uint8Array(nb * size);
  const dv = new DataView(out.buffer);
  const L = new Uint8Array(256);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < nb; b++) {
    const o = b * 256;
    const y = b * size;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j += 2) {
      // weights √(mean x²) + |x| of sub-blocks j and j + 1, then both searches together
      for (let k = 0; k < 2; k++) {
        const xo = o + 32 * (j + k);
        let sumX2 = 0;
        for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[xo + l]! * x[xo + l]!));
        const avX = fr(Math.sqrt(fr(sumX2 / 32)));
        for (let l = 0; l < 32; l++) W2[32 * k + l] = fr(avX + Math.abs(x[xo + l]!));
      }
      if (bits === 4) makeQkx2QuantsPair(nmax, x, o + 32 * j, o + 32 * (j + 1), L, 32 * j, 32 * (j + 1), -1, 0.1, 20);
      else makeQkx2QuantsPair(nmax, x, o + 32 * j, o + 32 * (j + 1), L, 32 * j, 32 * (j + 1), -0.5, 0.1, 15);
      scales[j] = LANE[4]!;
      mins[j] = -LANE[0]!;
      scales[j + 1] = LANE[12]!;
      mins[j + 1] = -LANE[8]!;
    }
    for (let j = 0; j < 8; j++) {
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    const q = y + 4; // the 12 scale bytes
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        out[q + j] = ls;
        out[q + j + 4] = lm;
      } else {
        out[q + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
        out[q + j - 4]! |= (ls >> 4) << 6;
        out[q + j]! |= (lm >> 4) << 6;
      }
    }
    dv.setUint16(y, floatToHalfBits(fr(maxScale / 63)), true);
    dv.setUint16(y + 2, floatToHalfBits(fr(maxMin / 63)), true);
    const d0 = HALF_TO_FLOAT[dv.getUint16(y, true)]!;
    const m0 = HALF_TO_FLOAT[dv.getUint16(y + 2, true)]!;
    for (let j = 0; j < 8; j++) {
      let sc: number;
      let m: number;
      if (j < 4) {
        sc = out[q + j]! & 63;
        m = out[q + j + 4]! & 63;
      } else {
        sc = (out[q + j + 4]! & 0xf) | ((out[q + j - 4]! >> 6) << 4);
        m = (out[q + j + 4]! >> 4) | ((out[q + j]! >> 6) << 4);
      }
      const d = fr(d0 * sc);
      if (!d) continue;
      const dm = fr(m0 * m);
      for (let ii = 0; ii < 32; ii++) {
        L[32 * j + ii] = Math.max(0, Math.min(nmax, nearestInt(fr(fr(x[o + 32 * j + ii]! + dm) / d))));
      }
    }
    if (bits === 4) {
      const qs = y + 16;
      for (let j = 0; j < 256; j += 64) {
        for (let l = 0; l < 32; l++) out[qs + j / 2 + l] = L[j + l]! | (L[j + l + 32]! << 4);
      }
    } else {
      const qh = y + 16;
      const ql = y + 48;
      let m1 = 1;
      let m2 = 2;
      for (let n = 0; n < 256; n += 64) {
        for (let j = 0; j < 32; j++) {
          let l1 = L[n + j]!;
          if (l1 > 15) {
            l1 -= 16;
            out[qh + j]! |= m1;
          }
          let l2 = L[n + j + 32]!;
          if (l2 > 15) {
            l2 -= 16;
            out[qh + j]! |= m2;
          }
          out[ql + n / 2 + j] = l1 | (l2 << 4);
        }
        m1 <<= 2;
        m2 <<= 2;
      }
    }
  }
  return out;
}

/**
 * ggml's make_qx_quants with rmse_type 1 (weights x²) and no importance: codes in L[lo..lo+n) (offset by nmax).
 * As make_qkx2_quants above: ggml's operations in its order, the weight terms x² and x³ made once per value, and a
 * candidate whose codes equal the previous one's skipped (same sums: taking it again would change nothing).
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[xo + i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i]!;
    const w = fr(v * v);
    WX2[i] = w;
    WX3[i] = fr(w * v);
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(fr(iscale * v))));
    L[lo + i] = l + nmax;
    sumlx = fr(sumlx + fr(WX3[i]! * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  let havePrevious = false;
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(0.1 * is)) / max);
    let same = havePrevious;
    for (let i = 0; i < n; i++) {
      const r = nearestInt(fr(iscale * x[xo + i]!));
      const l = r < -nmax ? -nmax : r > nmax - 1 ? nmax - 1 : r;
      if (l !== LAUX[i]) {
        LAUX[i] = l;
        same = false;
      }
    }
    if (same) continue;
    havePrevious = true;
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const l = LAUX[i]!;
      sumlx = fr(sumlx + fr(WX3[i]! * l));
      suml2 = fr(suml2 + fr(fr(WX2[i]! * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + LAUX[i]!;
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/**
 * Q6_K (210 bytes per 256: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, f16 d), as ggml's
 * quantize_row_q6_K_ref: a scale per 16 values from make_qx_quants, scales quantised to int8 against the largest.
 */
function quantizeQ6K(x: Float32Array): Uint8Array {
  const nb = x.length / 256;
  const out = new Uint8Array(nb * 210);
  const dv = new DataView(out.buffer);
  const L = new Int8Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < nb; b++) {
    const o = b * 256;
    const y = b * 210;
    let maxScale = 0;
    let maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQxQuants(16, 32, x, o + 16 * ib, L, 16 * ib);
      scales[ib] = s;
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s);
        maxScale = s;
      }
    }
    if (maxAbs < GROUP_MAX_EPS) continue; // an all-zero block: every byte 0
    const iscale = fr(-128 / maxScale);
    dv.setUint16(y + 208, floatToHalfBits(fr(1 / iscale)), true);
    for (let ib = 0; ib < 16; ib++) dv.setInt8(y + 192 + ib, Math.min(127, nearestInt(fr(iscale * scales[ib]!))));
    const d0 = HALF_TO_FLOAT[dv.getUint16(y + 208, true)]!;
    for (let j = 0; j < 16; j++) {
      const d = fr(d0 * dv.getInt8(y + 192 + j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(fr(x[o + 16 * j + ii]! / d)))) + 32;
      }
    }
    for (let j = 0; j < 256; j += 128) {
      const ql = y + j / 2;
      const qh = y + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l]! & 0xf;
        const q2 = L[j + l + 32]! & 0xf;
        const q3 = L[j + l + 64]! & 0xf;
        const q4 = L[j + l + 96]! & 0xf;
        out[ql + l] = q1 | (q3 << 4);
        out[ql + l + 32] = q2 | (q4 << 4);
        out[qh + l] = (L[j + l]! >> 4) | ((L[j + l + 32]! >> 4) << 2) | ((L[j + l + 64]! >> 4) << 4) | ((L[j + l + 96]! >> 4) << 6);
      }
    }
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
    case 'Q4_K':
    case 'Q5_K':
    case 'Q6_K':
      if (x.length % 256 !== 0) throw new KvError(`${what}: ${x.length} values is not a multiple of the ${typeName} block size 256`);
      return typeName === 'Q6_K' ? quantizeQ6K(x) : quantizeQ45K(x, typeName === 'Q4_K' ? 4 : 5);
    default:
      throw new KvError(`${what}: cannot quantise float32 to ${typeName}; kvmerger writes ${QUANTIZABLE_TYPES.join(', ')} (or raw bytes of any type)`);
  }
}

/** The float32 value an f16 rounds `x` to (for tests and error estimates). */
export function roundToHalf(x: number): number {
  return HALF_TO_FLOAT[floatToHalfBits(x)]!;
}
