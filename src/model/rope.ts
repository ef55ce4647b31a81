import type { ModelConfig, RopeStyle } from '../core/model-config.js';

/**
 * Rotary position embedding. Dimension pair i (0 ≤ i < ropeDimensionCount/2) of a head rotates by the angle
 * `position · invFreq[i]`, where invFreq[i] = base^(−2i/ropeDim), adjusted by the config's scaling:
 * - linear: divided by the factor (positions/factor);
 * - llama3: the wavelength-dependent rule of Llama 3.1 (long wavelengths divided by the factor, short ones kept,
 *   a smooth blend between), computed here unless the model carries `rope_freqs.weight`;
 * - `rope_freqs.weight` (GGUF, e.g. Llama 3.1 files): per-pair divisors applied as llama.cpp does. When the tensor is
 *   present it already encodes llama3 scaling, so the llama3 rule is not applied a second time; linear scaling still is.
 */
export function ropeInverseFrequencies(config: ModelConfig, ropeFreqs?: Float32Array): Float64Array {
  const dims = config.ropeDimensionCount;
  const half = dims / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = Math.pow(config.ropeFreqBase, (-2 * i) / dims);
  const s = config.ropeScaling;
  if (ropeFreqs) {
    if (ropeFreqs.length < half) throw new RangeError(`rope_freqs.weight has ${ropeFreqs.length} values, need ${half}`);
    for (let i = 0; i < half; i++) inv[i]! /= ropeFreqs[i]!;
  } else if (s.type === 'llama3') {
    const lowWavelen = s.originalContextLength / s.lowFreqFactor;
    const highWavelen = s.originalContextLength / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) continue;
      if (wavelen > lowWavelen) inv[i] = f / s.factor;
      else {
        const smooth = (s.originalContextLength / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
  }
  if (s.type === 'linear') for (let i = 0; i < half; i++) inv[i]! /= s.factor;
  return inv;
}

/**
 * Rotate one head vector in place: x[offset .. offset + headDim), the first `invFreq.length * 2` dims.
 * `normal`: pairs (x[2i], x[2i+1]); `neox`: pairs (x[i], x[i + ropeDim/2]). (a, b) → (a cos − b sin, a sin + b cos).
 */
export function applyRope(x: Float32Array, offset: number, position: number, invFreq: Float64Array, style: RopeStyle): void {
  const half = invFreq.length;
  for (let i = 0; i < half; i++) {
    const angle = position * invFreq[i]!;
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const ia = style === 'normal' ? offset + 2 * i : offset + i;
    const ib = style === 'normal' ? ia + 1 : ia + half;
    const a = x[ia]!;
    const b = x[ib]!;
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}
