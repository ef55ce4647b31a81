import type { LayerCache } from '../../cache/layer-cache.js';
import { defineMethod } from '../compression-method.js';
import { evictionPolicy, LAST_ROW } from '../eviction-policy.js';
import { compressByScore } from '../keep-by-score.js';
import { GQA_REDUCE, defineOptions, option, type OptionsOf } from '../method-options.js';
import { reduceToKvHeads } from '../reduce-to-kv-heads.js';
import { topIndices } from '../top-indices.js';
import { whenOption } from './h2o.js';

const OPTIONS = {
  granularity: option.enum(['layerShared', 'perHead'], { default: 'layerShared', description: 'layerShared: one choice per layer from the attention averaged over its heads (TOVA\'s rule); perHead: each KV head its own' }),
  when: whenOption('compress once after prefill (by the last prompt query), or also drop one token at every decode step'),
  ...GQA_REDUCE,
} as const;
export type TOVAOptions = OptionsOf<typeof OPTIONS>;

/**
 * The scores TOVA ranks a layer's slots by: per KV head its reduced row, or (layerShared, when every head holds the
 * same slots) the mean of the heads' rows, the same array for every head.
 */
export function tovaScores(layer: LayerCache, rows: Float32Array[], granularity: TOVAOptions['granularity']): Float32Array[] {
  const lengths = layer.lengths();
  const same = lengths.every((n) => n === lengths[0]);
  if (granularity !== 'layerShared' || !same) return rows;
  const n = lengths[0]!;
  const mean = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (const r of rows) s += r[j]!;
    mean[j] = s / rows.length;
  }
  return rows.map(() => mean);
}

/** TOVA (token omission via attention): keep the tokens the current query attends to most. */
export const tovaMethod = defineMethod<TOVAOptions>({
  name: 'tova',
  description: 'TOVA: drops the tokens the current query attends to least (averaged over heads); optional decode-time mode',
  schema: defineOptions(OPTIONS),
  statsRequest: () => LAST_ROW,
  compress(input) {
    const rows = input.stats.lastRow;
    if (!rows) throw new Error('tova: the prefill returned no lastRow; pass prepared.statsRequest to the forward pass');
    compressByScore(input, { scores: (layer, l) => tovaScores(layer, rows[l]!, input.options.granularity) });
  },
  decodePolicy({ options, layerBudgets }) {
    if (options.when !== 'decode') return undefined;
    // per step: [layer][kvHead] the slots to drop (the complement of the top b), last first so indices stay valid
    let drop: number[][][] = [];
    return evictionPolicy(layerBudgets, {
      stats: LAST_ROW,
      begin(cache, stats) {
        if (!stats?.lastRow) throw new Error('tova decode policy: the decode step returned no lastRow; pass policy.stats to the forward pass');
        drop = cache.layers.map((layer, l) => {
          const b = layerBudgets[l]!;
          if (layer.heads.every((h) => h.length <= b)) return [];
          const scores = tovaScores(layer, reduceToKvHeads(stats.lastRow![l]!, layer.kvHeads, options.gqaReduce), options.granularity);
          return layer.heads.map((head, h) => {
            if (head.length <= b) return [];
            // ties: the earlier slot goes
            const keep = new Set(topIndices(scores[h]!, 0, head.length, b));
            const out: number[] = [];
            for (let j = head.length - 1; j >= 0; j--) if (!keep.has(j)) out.push(j);
            return out;
          });
        });
      },
      victim: (_, __, l, h) => drop[l]?.[h]?.shift() ?? -1,
    });
  },
});
