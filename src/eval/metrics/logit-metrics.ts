/**
 * Fidelity metrics on logits, in float64: log-softmax (max-shifted, so any logit scale is safe), KL divergence of
 * the compressed-cache distribution from the full-cache one, top-1 agreement, and perplexity. The runner feeds one
 * forced token at a time to a `FidelityAccumulator`, so no logit history is kept.
 */
import type { FidelityObservation } from '../tasks/task.js';

/** log softmax(logits) in float64. Logits of -Infinity get -Infinity. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lse;
  return out;
}

/** KL(p ‖ q) in nats from two log-probability vectors; terms where p is 0 contribute nothing. */
export function klFromLogProbs(logP: ArrayLike<number>, logQ: ArrayLike<number>): number {
  if (logP.length !== logQ.length) throw new Error(`klFromLogProbs: lengths ${logP.length} and ${logQ.length} differ`);
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const lp = logP[i]!;
    if (lp === -Infinity) continue;
    kl += Math.exp(lp) * (lp - logQ[i]!);
  }
  // Rounding can leave a tiny negative value for identical distributions.
  return Math.max(0, kl);
}

/** KL(p_full ‖ p_compressed) per token from the two logit vectors. */
export function klDivergence(fullLogits: ArrayLike<number>, compressedLogits: ArrayLike<number>): number {
  return klFromLogProbs(logSoftmax(fullLogits), logSoftmax(compressedLogits));
}

/** Index of the largest value (the first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** exp(mean negative log-likelihood) of per-token log-probabilities (natural log). */
export function perplexity(logProbs: ArrayLike<number>): number {
  if (logProbs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < logProbs.length; i++) s -= logProbs[i]!;
  return Math.exp(s / logProbs.length);
}

/** Accumulates the fidelity of one teacher-forced continuation, one token at a time. */
export class FidelityAccumulator {
  private obs: FidelityObservation = { tokens: 0, nllFull: 0, nllCompressed: 0, klSum: 0, top1Agree: 0 };

  /** One forced step: the logits that predict `target` with the full and with the compressed cache. */
  add(fullLogits: ArrayLike<number>, compressedLogits: ArrayLike<number>, target: number): void {
    const lp = logSoftmax(fullLogits);
    const lq = logSoftmax(compressedLogits);
    if (!(target >= 0 && target < lp.length)) throw new Error(`FidelityAccumulator: target ${target} outside the vocabulary`);
    this.obs.tokens++;
    this.obs.nllFull -= lp[target]!;
    this.obs.nllCompressed -= lq[target]!;
    this.obs.klSum += klFromLogProbs(lp, lq);
    if (argmax(fullLogits) === argmax(compressedLogits)) this.obs.top1Agree++;
  }

  result(): FidelityObservation {
    return { ...this.obs };
  }
}

export interface FidelitySummary {
  pplFull: number;
  pplCompressed: number;
  /** pplCompressed − pplFull. */
  pplIncrease: number;
  /** pplCompressed / pplFull. */
  pplRatio: number;
  /** Mean KL(p_full ‖ p_compressed) per token, nats. */
  meanKL: number;
  top1Agreement: number;
  tokens: number;
}

export function summarizeFidelity(o: FidelityObservation): FidelitySummary {
  const n = o.tokens;
  const pplFull = Math.exp(o.nllFull / n);
  const pplCompressed = Math.exp(o.nllCompressed / n);
  return {
    pplFull,
    pplCompressed,
    pplIncrease: pplCompressed - pplFull,
    pplRatio: pplCompressed / pplFull,
    meanKL: o.klSum / n,
    top1Agreement: o.top1Agree / n,
    tokens: n,
  };
}
