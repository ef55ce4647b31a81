import { Rng } from '../util/rng.js';
import { KvError } from '../util/errors.js';

export interface SamplerOptions {
  /** 0 picks the most likely token (greedy); otherwise logits are divided by it. Default 0. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 (default) keeps all. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 (default) keeps all. */
  topP?: number;
  /** Min-p: keep only tokens whose probability is at least minP times the most likely one's; 0 (default) is off. */
  minP?: number;
  /** CTRL / llama.cpp repetition penalty over the last `repeatLastN` tokens; 1 (default) is off. */
  repeatPenalty?: number;
  /** How many of the most recent tokens the penalty looks at (default 64; 0 means none). */
  repeatLastN?: number;
  /** Seed of the generator that draws tokens (default 0): the same seed gives the same text. */
  seed?: number;
}

/** The candidates left after the sampler's filters, most likely first, with probabilities that sum to 1. */
export interface Candidates {
  ids: Int32Array;
  probs: Float64Array;
}

/**
 * Picks the next token from logits. The order is: repetition penalty → temperature → min-p → top-k → top-p → draw
 * (the order of Hugging Face's and llama2.c's samplers). With temperature 0 the penalty still applies, then argmax
 * (ties go to the lowest id).
 */
export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly minP: number;
  readonly repeatPenalty: number;
  readonly repeatLastN: number;
  private readonly rng: Rng;

  constructor(options: SamplerOptions = {}) {
    this.temperature = options.temperature ?? 0;
    this.topK = options.topK ?? 0;
    this.topP = options.topP ?? 1;
    this.minP = options.minP ?? 0;
    this.repeatPenalty = options.repeatPenalty ?? 1;
    this.repeatLastN = options.repeatLastN ?? 64;
    if (!(this.temperature >= 0) || !Number.isFinite(this.temperature)) throw new KvError(`--temperature must be a number ≥ 0 (got ${options.temperature})`);
    if (!Number.isInteger(this.topK) || this.topK < 0) throw new KvError(`--top-k must be an integer ≥ 0 (got ${options.topK}); 0 turns it off`);
    if (!(this.topP > 0 && this.topP <= 1)) throw new KvError(`--top-p must be in (0, 1] (got ${options.topP}); 1 turns it off`);
    if (!(this.minP >= 0 && this.minP <= 1)) throw new KvError(`--min-p must be in [0, 1] (got ${options.minP}); 0 turns it off`);
    if (!(this.repeatPenalty > 0) || !Number.isFinite(this.repeatPenalty)) throw new KvError(`--repeat-penalty must be a number > 0 (got ${options.repeatPenalty}); 1 turns it off`);
    if (!Number.isInteger(this.repeatLastN) || this.repeatLastN < 0) throw new KvError(`repeatLastN must be an integer ≥ 0 (got ${options.repeatLastN})`);
    this.rng = new Rng(options.seed ?? 0);
  }

  /** The next token id. `history` holds the tokens so far (prompt and generated), for the repetition penalty. */
  sample(logits: Float32Array, history: ArrayLike<number> = []): number {
    const penalised = this.penalise(logits, history);
    if (this.temperature === 0) return argmax(penalised);
    const c = this.candidates(penalised);
    const r = this.rng.next();
    let cdf = 0;
    for (let i = 0; i < c.ids.length; i++) {
      cdf += c.probs[i]!;
      if (r < cdf) return c.ids[i]!;
    }
    return c.ids[c.ids.length - 1]!;
  }

  /** The filtered, renormalised distribution the sampler draws from (temperature > 0), most likely first. */
  distribution(logits: Float32Array, history: ArrayLike<number> = []): Candidates {
    if (this.temperature === 0) {
      const best = argmax(this.penalise(logits, history));
      return { ids: Int32Array.of(best), probs: Float64Array.of(1) };
    }
    return this.candidates(this.penalise(logits, history));
  }

  /** Logits with the repetition penalty applied to each distinct token among the last repeatLastN of history. */
  penalise(logits: Float32Array, history: ArrayLike<number>): Float32Array {
    if (this.repeatPenalty === 1 || this.repeatLastN === 0 || history.length === 0) return logits;
    const out = logits.slice();
    const seen = new Set<number>();
    for (let i = Math.max(0, history.length - this.repeatLastN); i < history.length; i++) {
      const id = history[i]!;
      if (seen.has(id) || id < 0 || id >= out.length) continue;
      seen.add(id);
      const v = out[id]!;
      out[id] = v > 0 ? v / this.repeatPenalty : v * this.repeatPenalty;
    }
    return out;
  }

  private candidates(logits: Float32Array): Candidates {
    const n = logits.length;
    const t = this.temperature;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
    const p = new Float64Array(n);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp((logits[i]! - max) / t);
      p[i] = e;
      sum += e;
    }
    for (let i = 0; i < n; i++) p[i]! /= sum;
    // A token whose probability is below (1 − topP)/(n − 1) cannot be in the nucleus (the tokens above it would
    // otherwise fall short of topP), so sort only the tokens above that line, as llama2.c does.
    // Min-p (before top-k and top-p) drops every token below minP · p_max, where p_max = 1/sum (the max logit's exp(0)).
    const floor = Math.max(this.topP < 1 && this.topK === 0 ? (1 - this.topP) / Math.max(1, n - 1) : 0, this.minP / sum);
    let idx: number[] = [];
    for (let i = 0; i < n; i++) if (p[i]! >= floor) idx.push(i);
    idx.sort((a, b) => p[b]! - p[a]! || a - b);
    if (this.topK > 0 && idx.length > this.topK) idx = idx.slice(0, this.topK);
    let keep = idx.length;
    let mass = 0;
    for (const i of idx) mass += p[i]!;
    if (this.topP < 1) {
      const target = this.topP * mass;
      let cum = 0;
      for (let i = 0; i < idx.length; i++) {
        cum += p[idx[i]!]!;
        if (cum >= target) {
          keep = i + 1;
          break;
        }
      }
    }
    const ids = Int32Array.from(idx.slice(0, keep));
    const probs = new Float64Array(keep);
    let kept = 0;
    for (let i = 0; i < keep; i++) kept += p[ids[i]!]!;
    for (let i = 0; i < keep; i++) probs[i] = p[ids[i]!]! / kept;
    return { ids, probs };
  }
}

/** Index of the largest value; the lowest index wins ties. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! > bv) {
      bv = values[i]!;
      best = i;
    }
  }
  return best;
}
