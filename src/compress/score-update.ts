import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats } from '../cache/attention-stats.js';
import { reduceToKvHeads, type GqaReduce } from './reduce-to-kv-heads.js';

/**
 * Keeps `HeadCache.score` (H2O's accumulated attention s_j) up to date.
 * - After prefill: `seedScores` sets every slot's score to its GQA-reduced column sum over all prompt queries.
 * - After each decode step: `accumulateScores` adds the step's attention row (GQA-reduced) to every slot's score
 *   (the new token's slot included: it starts at 0 and receives its own attention).
 * A DecodePolicy calls `accumulateScores` itself in `afterDecodeStep`; the session calls it directly only when it
 * wants scores kept without a policy (never both, or rows are counted twice).
 */
export function seedScores(cache: KVCache, columnSums: readonly (readonly Float32Array[])[], mode: GqaReduce): void {
  addReduced(cache, columnSums, mode, true);
}

/** Add one decode step's attention row (`stats.lastRow`, per query head) to the scores. */
export function accumulateScores(cache: KVCache, stats: AttentionStats, mode: GqaReduce): void {
  if (!stats.lastRow) throw new Error('accumulateScores: the decode step returned no lastRow; request it with StatsRequest.lastRow');
  addReduced(cache, stats.lastRow, mode, false);
}

function addReduced(cache: KVCache, perQueryHead: readonly (readonly Float32Array[])[], mode: GqaReduce, replace: boolean): void {
  if (perQueryHead.length !== cache.layers.length) throw new Error(`score update: statistics for ${perQueryHead.length} layers, cache has ${cache.layers.length}`);
  cache.layers.forEach((layer, l) => {
    const reduced = reduceToKvHeads(perQueryHead[l]!, layer.kvHeads, mode);
    layer.heads.forEach((head, h) => {
      const r = reduced[h]!;
      if (r.length !== head.length) throw new Error(`score update: layer ${l} head ${h} has ${head.length} slots, statistics cover ${r.length}`);
      for (let j = 0; j < r.length; j++) head.score[j] = replace ? r[j]! : head.score[j]! + r[j]!;
    });
  });
}
