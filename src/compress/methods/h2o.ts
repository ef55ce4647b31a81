import type { HeadCache } from '../../cache/head-cache.js';
import type { CompressionMethod, DecodePolicy } from '../compression-method.js';
import { floorSlots } from '../budget.js';
import { GQA_REDUCE_OPTION, SCORES_OPTION, WINDOW_OPTION, type OptionSpec } from '../method-options.js';
import type { GqaReduce } from '../reduce-to-kv-heads.js';
import { accumulateScores } from '../score-update.js';
import { pickScores, scoreStatsRequest } from '../score-source.js';
import { argminFrom, range, topIndices } from '../top-indices.js';

export const RECENT_SHARE_OPTION: OptionSpec = {
  name: 'recentShare',
  type: 'number',
  min: 0,
  max: 1,
  default: 0.5,
  description: 'share of the budget kept for the most recent tokens (the rest: heavy hitters); 0.5 is 1:1',
};

const OPTIONS: OptionSpec[] = [
  RECENT_SHARE_OPTION,
  { name: 'when', type: 'enum', values: ['prefill', 'decode'], default: 'prefill', description: 'compress once after prefill, or also evict at every decode step to stay at the budget' },
  SCORES_OPTION,
  WINDOW_OPTION,
  GQA_REDUCE_OPTION,
];

/** Recent slots of a budget `b` with recent share `share` (the heavy hitters get the rest, odd slot included). */
export function recentSlots(b: number, share: number): number {
  return Math.min(b, floorSlots(b * share));
}

/**
 * H2O's selection for one head of n slots: the last `recent` slots, plus the `b − recent` highest-scoring slots
 * among the others (ties: the later slot). Returns the kept indices in increasing order.
 */
export function h2oKeep(score: ArrayLike<number>, n: number, b: number, recent: number): number[] {
  if (n <= b) return range(0, n);
  const r = Math.min(recent, b);
  return [...topIndices(score, 0, n - r, b - r), ...range(n - r, n)];
}

/** Decode-time H2O: evict the lowest-score slot outside the recent window until the head is within `b`. */
export function h2oEvict(head: HeadCache, b: number, recent: number): number {
  let evicted = 0;
  while (head.length > b) {
    const j = argminFrom(head.score, 0, head.length - Math.min(recent, b));
    if (j < 0) break;
    head.removeAt(j);
    evicted++;
  }
  return evicted;
}

/** H2O (Heavy-Hitter Oracle): heavy hitters by accumulated attention + the most recent tokens. */
export const h2oMethod: CompressionMethod = {
  name: 'h2o',
  description: 'H2O: keeps the heavy hitters by accumulated attention plus the most recent tokens (1:1); optional decode-time eviction',
  options: OPTIONS,
  statsRequest: (o) => scoreStatsRequest(o),
  compress({ cache, options, layerBudgets, stats, reserveSlots }) {
    const scores = pickScores(stats, options, 'h2o');
    const share = Number(options['recentShare']);
    cache.layers.forEach((layer, l) => {
      const b = layerBudgets[l]!;
      layer.heads.forEach((head, h) => {
        if (head.length > b) head.retain(h2oKeep(scores[l]![h]!, head.length, b, recentSlots(b, share)), reserveSlots);
      });
    });
  },
  decodePolicy({ options, layerBudgets }) {
    if (options['when'] !== 'decode') return undefined;
    const share = Number(options['recentShare']);
    const mode = options['gqaReduce'] as GqaReduce;
    let evicted = 0;
    const policy: DecodePolicy = {
      stats: { columnSums: false, window: 0, lastRow: true },
      afterDecodeStep(cache, stats) {
        if (!stats) throw new Error('h2o decode policy: the decode step returned no statistics; pass policy.stats to the forward pass');
        accumulateScores(cache, stats, mode);
        cache.layers.forEach((layer, l) => {
          const b = layerBudgets[l]!;
          for (const head of layer.heads) evicted += h2oEvict(head, b, recentSlots(b, share));
        });
      },
      get evicted() {
        return evicted;
      },
    };
    return policy;
  },
};
