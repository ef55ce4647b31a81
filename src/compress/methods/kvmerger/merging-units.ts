/**
 * What KVMerger cuts into merging sets: a unit is one KV head (`granularity=perHead`, the default) or one layer whose
 * heads share one layout (`headShared`: the adjacent cosines and the attention averaged over its KV heads). A unit
 * carries its adjacent key cosines and its reservation order (spec §2.1).
 */
import type { KVCache } from '../../../cache/kv-cache.js';
import { ceilSlots } from '../../budget.js';
import { adjacentCosines } from './merging-sets.js';
import type { KVMergerOptions } from './options.js';
import { reservationOrder } from './reserved-tokens.js';

export interface MergingUnit {
  layer: number;
  /** The KV heads that share this unit's layout (one, unless headShared). */
  heads: number[];
  /** Slots of each of its heads. */
  n: number;
  /** [n − 1] cosine of adjacent keys (averaged over the heads when shared). */
  cos: Float64Array;
  /** [n] aggregated attention (averaged over the heads when shared). */
  attention: ArrayLike<number>;
  /** Reservation order: reserving its first k slots gives nested reserved sets (reserved-tokens.ts). */
  order: Int32Array;
}

/**
 * The units of a cache, in layer then head order. Reserved counts are of each head's current slots:
 * sinkTokens, ⌈recentRatio · n⌉ recent, ⌈attnRatio · n⌉ by attention.
 */
export function mergingUnits(
  cache: KVCache,
  attention: Float32Array[][],
  options: Pick<KVMergerOptions, 'granularity' | 'sinkTokens'>,
  shares: { recentRatio: number; attnRatio: number },
): MergingUnit[] {
  const units: MergingUnit[] = [];
  cache.layers.forEach((layer, l) => {
    const make = (heads: number[], cos: Float64Array, att: ArrayLike<number>, n: number): MergingUnit => ({
      layer: l,
      heads,
      n,
      cos,
      attention: att,
      order: reservationOrder(n, att, options.sinkTokens, ceilSlots(shares.recentRatio * n), ceilSlots(shares.attnRatio * n)),
    });
    if (options.granularity === 'perHead') {
      layer.heads.forEach((head, h) => units.push(make([h], adjacentCosines(head.keys, head.length, head.headDim), attention[l]![h]!, head.length)));
      return;
    }
    const n = layer.heads[0]!.length;
    if (layer.heads.some((hd) => hd.length !== n)) throw new Error(`kvmerger headShared: layer ${l}'s heads hold different numbers of slots`);
    const cos = new Float64Array(Math.max(0, n - 1));
    const att = new Float64Array(n);
    layer.heads.forEach((head, h) => {
      const c = adjacentCosines(head.keys, n, head.headDim);
      for (let i = 0; i < c.length; i++) cos[i] = cos[i]! + c[i]! / layer.kvHeads;
      const a = attention[l]![h]!;
      for (let j = 0; j < n; j++) att[j] = att[j]! + a[j]! / layer.kvHeads;
    });
    units.push(make(layer.heads.map((_, h) => h), cos, att, n));
  });
  return units;
}
