/**
 * KVMerger's Gaussian-kernel weighted merging (spec §2.3, the paper's Algorithm 2): a merging set becomes one slot,
 * its pivot's, holding the kernel-weighted mean of the keys and the (scaled) weighted mean of the values.
 */
import type { HeadCache } from '../../../cache/head-cache.js';
import type { KVMergerOptions } from './options.js';

export type SigmaMode = KVMergerOptions['sigma'];

/** Options of KVMerger's merge step (the paper's Algorithm 2). */
export type MergeOptions = Pick<KVMergerOptions, 'sigma' | 'valueScale' | 'weighting'> & Partial<Pick<KVMergerOptions, 'proportional'>>;

/**
 * Kernel weights of set [start, end] with pivot p: g_i = exp(−‖k_p − k_i‖² / (2σ²)), w_i = g_i / Σ g (so Σ w = 1 and
 * the pivot's weight is the largest). σ: 'meanDistance' → mean_i ‖k_p − k_i‖ / √2 (pivot included); 'rmsDistance' →
 * sqrt(mean_i ‖k_p − k_i‖²); a number → that σ. σ = 0 (identical keys) or weighting 'mean' → equal weights 1/|S|.
 * @returns weights [|S|] in slot order, and the σ used
 */
export function kernelWeights(keys: Float32Array, headDim: number, start: number, end: number, p: number, opts: Pick<MergeOptions, 'sigma' | 'weighting'>): { weights: Float64Array; sigma: number } {
  const size = end - start + 1;
  const weights = new Float64Array(size);
  const dist2 = new Float64Array(size);
  for (let i = start; i <= end; i++) {
    let s = 0;
    for (let c = 0; c < headDim; c++) {
      const diff = keys[p * headDim + c]! - keys[i * headDim + c]!;
      s += diff * diff;
    }
    dist2[i - start] = s;
  }
  let sigma: number;
  if (typeof opts.sigma === 'number') sigma = opts.sigma;
  else if (opts.sigma === 'rmsDistance') sigma = Math.sqrt(dist2.reduce((a, b) => a + b, 0) / size);
  else sigma = dist2.reduce((a, b) => a + Math.sqrt(b), 0) / size / Math.SQRT2;
  if (opts.weighting === 'mean' || !(sigma > 0)) {
    weights.fill(1 / size);
    return { weights, sigma };
  }
  // Relative to the nearest key (the pivot, at distance 0), which keeps weight 1: the sum is ≥ 1, and a σ whose
  // square underflows (1e-300) gives its limit (all weight on the nearest keys), one whose square overflows the mean.
  let nearest = Infinity;
  for (let i = 0; i < size; i++) nearest = Math.min(nearest, dist2[i]!);
  const twoSigma2 = 2 * sigma * sigma;
  let total = 0;
  for (let i = 0; i < size; i++) {
    const e = dist2[i]! - nearest;
    weights[i] = e === 0 ? 1 : Math.exp(-e / twoSigma2);
    total += weights[i]!;
  }
  for (let i = 0; i < size; i++) weights[i] = weights[i]! / total;
  return { weights, sigma };
}

/**
 * Merge slots [start, end] of a head into the pivot's slot p: k̂ = Σ w_i k_i, v̂ = c · Σ w_i v_i with c = |S| under
 * valueScale 'setSize' (else 1), mass and score summed. The pivot keeps its position. The other slots are left as
 * they are; the caller drops them (HeadCache.retain).
 *
 * 'mass' counts the tokens the set stands for instead of its slots, without compounding a factor a merged slot
 * already carries: v̂ = (Σ m_i) · Σ w_i v_i / m_i. With unit masses (every one-shot merge) it is exactly 'setSize';
 * it matters when merged slots merge again (compression during the prefill).
 *
 * proportional=true: the kernel weights are multiplied by the members' masses and renormalised (a slot standing for
 * m tokens counts m times, as proportional attention counts it); with unit masses nothing changes.
 */
export function gaussianMerge(head: HeadCache, start: number, end: number, p: number, opts: MergeOptions): { weights: Float64Array; sigma: number } {
  const d = head.headDim;
  const { weights, sigma } = kernelWeights(head.keys, d, start, end, p, opts);
  if (opts.proportional === 'true') massWeighted(weights, head.mass, start);
  const byMass = opts.valueScale === 'mass';
  const k = new Float64Array(d);
  const v = new Float64Array(d);
  let mass = 0;
  let score = 0;
  for (let i = start; i <= end; i++) {
    const w = weights[i - start]!;
    const m = byMass ? head.mass[i]! : 1;
    for (let c = 0; c < d; c++) {
      k[c] = k[c]! + w * head.keys[i * d + c]!;
      v[c] = v[c]! + w * (head.values[i * d + c]! / m);
    }
    mass += head.mass[i]!;
    score += head.score[i]!;
  }
  const scale = byMass ? mass : opts.valueScale === 'setSize' ? end - start + 1 : 1;
  for (let c = 0; c < d; c++) {
    head.keys[p * d + c] = k[c]!;
    head.values[p * d + c] = scale * v[c]!;
  }
  head.mass[p] = mass;
  head.score[p] = score;
  return { weights, sigma };
}

/** w_i ← w_i · m_i / Σ w_j m_j, in place (proportional attention's weights; unchanged when every mass is 1). */
function massWeighted(weights: Float64Array, mass: Float32Array, start: number): void {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += (weights[i] = weights[i]! * mass[start + i]!);
  if (total > 0) for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! / total;
}
