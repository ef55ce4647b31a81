/**
 * Fitting a generated prompt to a token budget: the largest size parameter (haystack tokens, words, sentences)
 * whose prompt still has at most `limit` tokens, as RULER and the needle tests do. Token counts are nearly
 * monotone in the parameter; the search assumes it.
 */
import { KvError } from '../../util/errors.js';
import { encodeContent, type EvalTokenizer } from './task.js';

export interface Fitted {
  /** The size parameter chosen. */
  n: number;
  text: string;
  tokens: number;
}

/**
 * The largest n in [min, max] with tokens(build(n)) ≤ limit. `guess` is a first estimate (it and the measured
 * tokens-per-unit ratio narrow the bracket before bisection, so a fit costs a handful of encodes). `what` names the
 * task for the error when even `min` does not fit.
 */
export function fitToTokens(
  build: (n: number) => string,
  tokenizer: EvalTokenizer,
  limit: number,
  opts: { min?: number; max: number; guess?: number; what: string },
): Fitted {
  const min = opts.min ?? 0;
  const max = opts.max;
  const memo = new Map<number, Fitted>();
  const measure = (n: number): Fitted => {
    let f = memo.get(n);
    if (!f) {
      const text = build(n);
      f = { n, text, tokens: encodeContent(tokenizer, text).length };
      memo.set(n, f);
    }
    return f;
  };
  const base = measure(min);
  if (base.tokens > limit) {
    throw new KvError(`${opts.what}: length ${limit} tokens is too short (the prompt needs at least ${base.tokens}); use a larger --lengths value`);
  }
  let lo = min; // fits
  let hi = max + 1; // first n known not to fit (max + 1: unknown)
  let n = Math.min(max, Math.max(min + 1, opts.guess ?? min + 1));
  for (let step = 0; step < 6 && hi - lo > 1; step++) {
    if (n <= lo || n >= hi) break;
    const f = measure(n);
    if (f.tokens <= limit) lo = n;
    else hi = n;
    // Secant step on tokens per unit, aiming just under the limit.
    const perUnit = (f.tokens - base.tokens) / Math.max(1, n - min);
    const next = perUnit > 0 ? Math.floor(n + (limit - f.tokens) / perUnit) : hi - 1;
    n = f.tokens <= limit ? Math.min(next + 1, hi - 1) : Math.max(next, lo + 1);
    if (n === lo || n === hi) break;
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (mid > max) {
      hi = mid;
      continue;
    }
    if (measure(mid).tokens <= limit) lo = mid;
    else hi = mid;
  }
  return measure(lo);
}
