import type { HeadCache } from '../cache/head-cache.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import type { DecodePolicy } from './compression-method.js';

/**
 * A decode-time method says which slot goes next; `evictionPolicy` does the rest: after every decode step, each KV
 * head above its layer's budget loses slots (HeadCache.removeAt, one at a time, no reallocation) until it is within
 * it, and the removals are counted for the report.
 */
export interface EvictionRule {
  /** What every decode step's forward pass must return (e.g. `lastRow: true`). */
  stats: StatsRequest;
  /** Once per step, before any eviction: check the statistics, add the step's row to the scores, and the like. */
  begin?(cache: KVCache, stats: AttentionStats | undefined): void;
  /** The slot to evict next from head `h` of layer `l`, which holds more than `b` slots; -1 stops. */
  victim(head: HeadCache, b: number, l: number, h: number): number;
  /** Just before slot `j` is removed (CaM merges its value into the slots after it). */
  evicting?(head: HeadCache, j: number, l: number, h: number): void;
  /** Just after slot `j` was removed (to keep a side array aligned with the slots). */
  removed?(j: number, l: number, h: number): void;
}

/** A DecodePolicy from an eviction rule. `layerBudgets` is read at every step (it may be filled after creation). */
export function evictionPolicy(layerBudgets: readonly number[], rule: EvictionRule): DecodePolicy {
  let evicted = 0;
  return {
    stats: rule.stats,
    afterDecodeStep(cache, stats) {
      rule.begin?.(cache, stats);
      cache.layers.forEach((layer, l) => {
        const b = layerBudgets[l]!;
        layer.heads.forEach((head, h) => {
          while (head.length > b) {
            const j = rule.victim(head, b, l, h);
            if (j < 0 || j >= head.length) break;
            rule.evicting?.(head, j, l, h);
            head.removeAt(j);
            rule.removed?.(j, l, h);
            evicted++;
          }
        });
      });
    },
    get evicted() {
      return evicted;
    },
  };
}

/** The statistics of a decode policy that reads each step's attention row. */
export const LAST_ROW: StatsRequest = { columnSums: false, window: 0, lastRow: true };
