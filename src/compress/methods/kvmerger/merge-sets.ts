/**
 * KVMerger's merge step over a cache (spec §2.3): every merging set of every unit becomes one slot — its pivot's,
 * holding the Gaussian-kernel merge of its members — and each head is compacted to the slots that remain.
 */
import type { KVCache } from '../../../cache/kv-cache.js';
import { gaussianMerge, type MergeOptions } from './gaussian-merge.js';
import { mergingSets } from './merging-sets.js';
import type { MergingUnit } from './merging-units.js';
import type { KVMergerOptions } from './options.js';
import { centrePivot, pivotOf } from './pivot.js';

/** Merge the sets that `cuts` (one per unit) define, in every head. Returns [layer] the number of merging sets. */
export function mergeSets(cache: KVCache, units: readonly MergingUnit[], cuts: readonly Uint8Array[], attention: Float32Array[][], opts: MergeOptions & Partial<Pick<KVMergerOptions, 'pivot'>>, reserveSlots: number): number[] {
  const perLayer = new Array<number>(cache.layers.length).fill(0);
  units.forEach((u, i) => (perLayer[u.layer]! += mergeUnit(cache, u, cuts[i]!, attention[u.layer]!, opts, reserveSlots)));
  return perLayer;
}

/** Merge every set of a unit in every head it covers (one pivot per set, shared by its heads), then compact. */
function mergeUnit(cache: KVCache, unit: MergingUnit, cut: Uint8Array, attention: Float32Array[], opts: MergeOptions & Partial<Pick<KVMergerOptions, 'pivot'>>, reserveSlots: number): number {
  const sets = mergingSets(cut, unit.n);
  if (sets.length === 0) return 0;
  for (const h of unit.heads) {
    const head = cache.layers[unit.layer]!.heads[h]!;
    const a = unit.heads.length > 1 ? unit.attention : attention[h]!;
    const keep: number[] = [];
    let next = 0;
    for (const [s, e] of sets) {
      for (let j = next; j < s; j++) keep.push(j);
      const p = opts.pivot === 'centre' ? centrePivot(s, e) : pivotOf(a, s, e);
      gaussianMerge(head, s, e, p, opts);
      keep.push(p);
      next = e + 1;
    }
    for (let j = next; j < unit.n; j++) keep.push(j);
    head.retain(keep, reserveSlots);
  }
  return sets.length;
}
