import type { StatsRequest } from '../cache/attention-stats.js';
import type { ReducedStats } from './compression-method.js';

/** The options behind `SCORE_SOURCE` (method-options.ts). */
export interface ScoreSourceOptions {
  scores: 'all' | 'window';
  window: number;
}

/**
 * Score-based methods read either the column sums over all prompt queries (`scores=all`) or over the last `window`
 * queries (`scores=window`). These two helpers turn the options into the prefill's request and pick the statistic.
 */
export function scoreStatsRequest(options: ScoreSourceOptions, extra: Partial<StatsRequest> = {}): StatsRequest {
  const useWindow = options.scores === 'window';
  return {
    columnSums: !useWindow || extra.columnSums === true,
    window: useWindow ? options.window : (extra.window ?? 0),
    lastRow: extra.lastRow ?? false,
  };
}

/** [layer][kvHead] → Float32Array(slots): the statistic `options.scores` names. */
export function pickScores(stats: ReducedStats, options: ScoreSourceOptions, method: string): Float32Array[][] {
  const useWindow = options.scores === 'window';
  const s = useWindow ? stats.windowSums : stats.columnSums;
  if (!s) throw new Error(`${method}: the prefill returned no ${useWindow ? 'windowSums' : 'columnSums'}; pass prepared.statsRequest to the forward pass`);
  return s;
}
