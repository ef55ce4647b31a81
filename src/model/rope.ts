import { isSlidingLayer, type ModelConfig, type RopeStyle } from '../core/model-config.js';

/**
 * Rotary position embedding. Dimension pair i (0 ≤ i < ropeDimensionCount/2) of a head rotates by the angle
 * `position · invFreq[i]`, where invFreq[i] = base^(−2i/ropeDim), adjusted by the config's scaling:
 * - linear: divided by the factor (positions/factor);
 * - llama3: the wavelength-dependent rule of Llama 3.1 (long wavelengths divided by the factor, short ones kept,
 *   a smooth blend between), computed here unless the model carries `rope_freqs.weight`;
 * - `rope_freqs.weight` (GGUF, e.g. Llama 3.1 files): per-pair divisors applied as llama.cpp does. When the tensor is
 *   present it already encodes llama3 scaling, so the llama3 rule is not applied a second time; linear scaling still is.
 *   Phi-3's LongRoPE factors (`rope_factors_long/short.weight`, see `ropeFactorsTensor`) are applied the same way.
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
 * `normal`: pairs (x[2i], x[2i+1]); `neox`: pairs (x[i], x[i + ropeDim/2]). (a, b) → (a cos − b sin, a sin + b cos),
 * cos and sin multiplied by `mscale` (LongRoPE's attention factor; ggml's attn_factor).
 */
export function applyRope(x: Float32Array, offset: number, position: number, invFreq: Float64Array, style: RopeStyle, mscale = 1): void {
  const half = invFreq.length;
  for (let i = 0; i < half; i++) {
    const angle = position * invFreq[i]!;
    const c = Math.cos(angle) * mscale;
    const s = Math.sin(angle) * mscale;
    const ia = style === 'normal' ? offset + 2 * i : offset + i;
    const ib = style === 'normal' ? ia + 1 : ia + half;
    const a = x[ia]!;
    const b = x[ib]!;
    x[ia] = a * c - b * s;
    x[ib] = a * s + b * c;
  }
}

/**
 * The per-pair divisor tensor llama.cpp passes to RoPE (get_rope_factors): `rope_freqs.weight` when present; for
 * LongRoPE `rope_factors_long.weight` when the context exceeds the original one, else `rope_factors_short.weight`.
 * kvmerger runs a model at its trained context (`contextLength`), as llama.cpp does with `-c 0`.
 */
export function ropeFactorsTensor(config: ModelConfig, has: (name: string) => boolean, contextSize = config.contextLength): string | undefined {
  if (has('rope_freqs.weight')) return 'rope_freqs.weight';
  const s = config.ropeScaling;
  if (s.type === 'longrope') return contextSize > s.originalContextLength ? 'rope_factors_long.weight' : 'rope_factors_short.weight';
  return undefined;
}

/** RoPE of one layer: inverse frequencies and the cos/sin multiplier. */
export interface LayerRope {
  invFreq: Float64Array;
  mscale: number;
}

/**
 * RoPE per layer: sliding-window layers use `config.ropeLocal` (their own base and scaling, no factor tensor, as
 * llama.cpp's gemma graphs pass none), global layers the model's RoPE with its factor tensor. Layers that share a
 * setting share the object.
 */
export function layerRopes(config: ModelConfig, factors?: Float32Array): LayerRope[] {
  const { global, local } = modelRopes(config, factors);
  return Array.from({ length: config.blockCount }, (_, l) => (local && isSlidingLayer(config, l) ? local : global));
}

/** The global layers' RoPE and, when the config has `ropeLocal`, the sliding-window layers' own. */
export function modelRopes(config: ModelConfig, factors?: Float32Array): { global: LayerRope; local?: LayerRope } {
  const mscale = config.ropeScaling.type === 'longrope' ? config.ropeScaling.attnFactor : 1;
  const global: LayerRope = { invFreq: ropeInverseFrequencies(config, factors), mscale };
  if (!config.ropeLocal) return { global };
  const localConfig = { ...config, ropeFreqBase: config.ropeLocal.freqBase, ropeScaling: config.ropeLocal.scaling };
  return { global, local: { invFreq: ropeInverseFrequencies(localConfig), mscale: 1 } };
}
