import type { HeadCache } from '../../cache/head-cache.js';
import { floorSlots } from '../budget.js';
import { defineMethod } from '../compression-method.js';
import { evictionPolicy, LAST_ROW } from '../eviction-policy.js';
import { compressByScore, keepByScore } from '../keep-by-score.js';
import { GQA_REDUCE, SCORE_SOURCE, defineOptions, option, type OptionsOf } from '../method-options.js';
import { accumulateScores } from '../score-update.js';
import { pickScores, scoreStatsRequest } from '../score-source.js';
import { argminFrom } from '../top-indices.js';

/** The recent share option, shared with CaM (which words it for its own split). */
export const recentShareOption = (description: string) => option.number({ min: 0, max: 1, default: 0.5, description });
/** Compress once after the prefill, or also at every decode step (h2o, cam, streaming, tova). */
export const whenOption = (description: string) => option.enum(['prefill', 'decode'], { default: 'prefill', description });

const OPTIONS = {
  recentShare: recentShareOption('share of the budget kept for the most recent tokens (the rest: heavy hitters); 0.5 is 1:1'),
  when: whenOption('compress once after prefill, or also evict at every decode step to stay at the budget'),
  ...SCORE_SOURCE,
  ...GQA_REDUCE,
} as const;
export const H2O_OPTIONS = defineOptions(OPTIONS);
export type H2OOptions = OptionsOf<typeof OPTIONS>;

/** Recent slots of a budget `b` with recent share `share` (the heavy hitters get the rest, odd slot included). */
export function recentSlots(b: number, share: number): number {
  return Math.min(b, floorSlots(b * share));
}

/**
 * H2O's selection for one head of n slots: the last `recent` slots, plus the `b − recent` highest-scoring slots
 * among the others (ties: the later slot). Returns the kept indices in increasing order.
 */
export function h2oKeep(score: ArrayLike<number>, n: number, b: number, recent: number): number[] {
  return keepByScore(score, n, b, 0, recent);
}

/** Decode-time H2O's victim: the lowest-score slot outside the recent window (ties: the earliest). */
export function h2oVictim(head: HeadCache, b: number, recent: number): number {
  return argminFrom(head.score, 0, head.length - Math.min(recent, b));
}

/** H2O (Heavy-Hitter Oracle): heavy hitters by accumulated attention + the most recent tokens. */
export const h2oMethod = defineMethod<H2OOptions>({
  name: 'h2o',
  description: 'H2O: keeps the heavy hitters by accumulated attention plus the most recent tokens (1:1); optional decode-time eviction',
  schema: H2O_OPTIONS,
  statsRequest: (o) => scoreStatsRequest(o),
  compress(input) {
    const scores = pickScores(input.stats, input.options, 'h2o');
    compressByScore(input, { recent: (b) => recentSlots(b, input.options.recentShare), scores: (_, l) => scores[l]! });
  },
  decodePolicy({ options, layerBudgets }) {
    if (options.when !== 'decode') return undefined;
    return evictionPolicy(layerBudgets, {
      stats: LAST_ROW,
      begin(cache, stats) {
        if (!stats) throw new Error('h2o decode policy: the decode step returned no statistics; pass policy.stats to the forward pass');
        accumulateScores(cache, stats, options.gqaReduce);
      },
      victim: (head, b) => h2oVictim(head, b, recentSlots(b, options.recentShare)),
    });
  },
});
