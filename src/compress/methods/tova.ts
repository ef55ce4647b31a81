import type { LayerCache } from '../../cache/layer-cache.js';
import type { CompressionMethod, DecodePolicy } from '../compression-method.js';
import { GQA_REDUCE_OPTION, type OptionSpec } from '../method-options.js';
import { reduceToKvHeads, type GqaReduce } from '../reduce-to-kv-heads.js';
import { topIndices } from '../top-indices.js';

const OPTIONS: OptionSpec[] = [
  { name: 'granularity', type: 'enum', values: ['layerShared', 'perHead'], default: 'layerShared', description: 'layerShared: one choice per layer from the attention averaged over its heads (TOVA\'s rule); perHead: each KV head its own' },
  { name: 'when', type: 'enum', values: ['prefill', 'decode'], default: 'prefill', description: 'compress once after prefill (by the last prompt query), or also drop one token at every decode step' },
  GQA_REDUCE_OPTION,
];

/**
 * The scores TOVA ranks a layer's slots by: per KV head its reduced row, or (layerShared, when every head holds the
 * same slots) the mean of the heads' rows, the same array for every head.
 */
export function tovaScores(layer: LayerCache, rows: Float32Array[], granularity: string): Float32Array[] {
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
export const tovaMethod: CompressionMethod = {
  name: 'tova',
  description: 'TOVA: drops the tokens the current query attends to least (averaged over heads); optional decode-time mode',
  options: OPTIONS,
  statsRequest: () => ({ columnSums: false, window: 0, lastRow: true }),
  compress({ cache, options, layerBudgets, stats, reserveSlots }) {
    if (!stats.lastRow) throw new Error('tova: the prefill returned no lastRow; pass prepared.statsRequest to the forward pass');
    cache.layers.forEach((layer, l) => {
      const b = layerBudgets[l]!;
      const scores = tovaScores(layer, stats.lastRow![l]!, String(options['granularity']));
      layer.heads.forEach((head, h) => {
        if (head.length > b) head.retain(topIndices(scores[h]!, 0, head.length, b), reserveSlots);
      });
    });
  },
  decodePolicy({ options, layerBudgets }) {
    if (options['when'] !== 'decode') return undefined;
    const mode = options['gqaReduce'] as GqaReduce;
    let evicted = 0;
    const policy: DecodePolicy = {
      stats: { columnSums: false, window: 0, lastRow: true },
      afterDecodeStep(cache, stats) {
        if (!stats?.lastRow) throw new Error('tova decode policy: the decode step returned no lastRow; pass policy.stats to the forward pass');
        cache.layers.forEach((layer, l) => {
          const b = layerBudgets[l]!;
          if (layer.heads.every((h) => h.length <= b)) return;
          const rows = reduceToKvHeads(stats.lastRow![l]!, layer.kvHeads, mode);
          const scores = tovaScores(layer, rows, String(options['granularity']));
          layer.heads.forEach((head, h) => {
            if (head.length <= b) return;
            // drop the complement of the top b (ties: the earlier slot goes), last first so indices stay valid
            const keep = new Set(topIndices(scores[h]!, 0, head.length, b));
            for (let j = head.length - 1; j >= 0; j--) {
              if (keep.has(j)) continue;
              head.removeAt(j);
              evicted++;
            }
          });
        });
      },
      get evicted() {
        return evicted;
      },
    };
    return policy;
  },
};
