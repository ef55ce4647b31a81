/**
 * KVMerger (spec §2; the paper's Algorithms 1 and 2), one step per file: reserved-tokens (§2.1), merging-sets and
 * budget-modes (§2.2), pivot and gaussian-merge (§2.3), merge-sets (the two applied to a cache), options.
 */
import { defineMethod, type MethodInput } from '../../compression-method.js';
import { pickScores, scoreStatsRequest } from '../../score-source.js';
import { exactLayout, faithfulLayout } from './budget-modes.js';
import { mergeSets } from './merge-sets.js';
import { mergingUnits } from './merging-units.js';
import { KVMERGER_OPTIONS, KVMERGER_PROP_OPTIONS, type KVMergerOptions } from './options.js';
import { shuffledCuts } from './merging-sets.js';
import { reservedMask, reservedShares, resolveShares } from './reserved-tokens.js';
import { kvmergerDecodePolicy } from './decode-merge.js';

/** The report's `details`: the reserved shares used, and per layer the deciding threshold, reservation and sets. */
export type KVMergerDetails = { recentRatio: number; attnRatio: number; thresholdCosine: (number | null)[]; reservedPerHead: number[]; mergingSets: number[] };

/** Per layer and KV head: cut the slots into merging sets of similar adjacent keys, merge each set into its pivot. */
export function compressKVMerger({ cache, options, layerBudgets, stats, reserveSlots, rng }: MethodInput<KVMergerOptions>): KVMergerDetails {
  const attention = pickScores(stats, options, 'kvmerger'); // aggregated attention a_j
  const shares = reservedShares(options); // recent and high-attention tokens are never merged
  const units = mergingUnits(cache, attention, options, shares); // adjacent key cosines + reservation order
  const layout = options.budgetMode === 'faithful' ? faithfulLayout(units, cache.layers.length, options.epsilon) : exactLayout(units, layerBudgets, options.thresholdScope);
  // ablation: the same set sizes at random places (reserved slots stay single)
  const cuts = options.sets === 'random' ? units.map((u, i) => shuffledCuts(layout.cuts[i]!, u.n, reservedMask(u.n, u.order, layout.reservedPerHead[u.layer]!), () => rng.next())) : layout.cuts;
  if (options.proportional === 'true') for (const layer of cache.layers) for (const head of layer.heads) head.proportional = true;
  const sets = mergeSets(cache, units, cuts, attention, options, reserveSlots); // pivot + Gaussian-kernel merge
  return { ...shares, thresholdCosine: layout.thresholdCosine, reservedPerHead: layout.reservedPerHead, mergingSets: sets };
}

export const kvmergerMethod = defineMethod<KVMergerOptions>({
  name: 'kvmerger',
  description: 'KVMerger: merges runs of adjacent tokens with similar keys into their highest-attention token (Gaussian-kernel weights); reserved recent and high-attention tokens',
  schema: KVMERGER_OPTIONS,
  resolveOptions: resolveShares,
  statsRequest: (o) => scoreStatsRequest(o),
  compress: compressKVMerger,
  decodePolicy: kvmergerDecodePolicy,
  prefillRefusal: (o) => (o.budgetMode === 'faithful' ? 'kvmerger budgetMode=faithful keeps whatever its fixed threshold gives, which does not bound the cache during the prefill; use budgetMode=exact (the default) or drop --compress-during-prefill' : undefined),
  // |S| counts tokens during the prefill: a merged slot that merges again must not compound its factor
  repeatedRoundOptions: (o) => (o.valueScale === 'setSize' ? { ...o, valueScale: 'mass' } : o),
});

/**
 * KVMerger as the ablation left it (docs/ablation.md): the paper's algorithm with proportional attention instead of
 * the |S| value scaling, and one threshold for the whole cache. `kvmerger` stays the paper's.
 */
export const kvmergerPropMethod = defineMethod<KVMergerOptions>({
  ...kvmergerMethod,
  name: 'kvmerger-prop',
  description: 'KVMerger with proportional attention (a merged slot weighs as the tokens it stands for; no |S| value scaling) and one threshold for the whole cache: the best configuration of docs/ablation.md',
  schema: KVMERGER_PROP_OPTIONS,
});

export { faithfulShares } from './reserved-tokens.js';
export type { KVMergerOptions } from './options.js';
