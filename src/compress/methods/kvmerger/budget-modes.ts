/**
 * KVMerger's budget modes (spec §2.2): where to cut each unit's slots into merging sets.
 * - `faithful`: the paper's fixed threshold ε and reserved shares; the kept size follows.
 * - `exact`: the kept slots hit the budget exactly, per layer (`thresholdScope=layer`) or in total (`global`): merge
 *   the mergeable adjacent pairs with the highest cosine, giving reserved tokens up (in reverse reservation order)
 *   when they alone leave too few.
 */
import { upperBound } from './upper-bound.js';
import { mergeablePairs, thresholdCuts } from './merging-sets.js';
import type { MergingUnit } from './merging-units.js';
import type { KVMergerOptions } from './options.js';
import { reservedMask } from './reserved-tokens.js';

/** Cuts per unit (cut[i] = 1: slots i and i+1 stay in different sets), with what the report shows per layer. */
export interface SetLayout {
  cuts: Uint8Array[];
  /** [layer] the threshold that decided (ε, or the lowest merged cosine in exact mode; null when nothing merged). */
  thresholdCosine: (number | null)[];
  /** [layer] how many slots of the reservation order stayed reserved. */
  reservedPerHead: number[];
}

/** Faithful mode: cut wherever the adjacent cosine is ≤ ε or a slot is reserved (every reservation kept). */
export function faithfulLayout(units: readonly MergingUnit[], layers: number, epsilon: number): SetLayout {
  const reservedPerHead = new Array<number>(layers).fill(0);
  units.forEach((u) => (reservedPerHead[u.layer] = u.order.length));
  return {
    cuts: units.map((u) => thresholdCuts(u.cos, reservedMask(u.n, u.order, u.order.length), epsilon)),
    thresholdCosine: new Array<number | null>(layers).fill(epsilon),
    reservedPerHead,
  };
}

/** Exact mode: each group (a layer, or the whole cache) keeps exactly its budget, Σ layerBudgets · heads. */
export function exactLayout(units: readonly MergingUnit[], layerBudgets: readonly number[], scope: KVMergerOptions['thresholdScope']): SetLayout {
  const layers = layerBudgets.length;
  const thresholdCosine = new Array<number | null>(layers).fill(null);
  const reservedPerHead = new Array<number>(layers).fill(0);
  const cuts = new Map<MergingUnit, Uint8Array>();
  const groups: MergingUnit[][] = scope === 'global' ? [units.slice()] : layerBudgets.map((_, l) => units.filter((u) => u.layer === l));
  for (const g of groups) {
    const w = g[0]!.heads.length; // slots removed per merged pair (1, or kvHeads when heads share a layout)
    const have = g.reduce((s, u) => s + u.n, 0);
    const target = g.reduce((s, u) => s + Math.floor(layerBudgets[u.layer]! * u.heads.length / w), 0);
    const r = exactCuts(g, have - target);
    g.forEach((u, i) => cuts.set(u, r.cuts[i]!));
    for (const u of g) {
      thresholdCosine[u.layer] = r.threshold;
      reservedPerHead[u.layer] = Math.min(r.level, u.order.length);
    }
  }
  return { cuts: units.map((u) => cuts.get(u)!), thresholdCosine, reservedPerHead };
}

/**
 * Exact mode for one group of units that must merge `m` adjacent pairs. Keeps the largest common reservation level
 * k (the first k slots of each unit's reservation order) that still leaves ≥ m mergeable pairs, then merges the m
 * mergeable pairs with the highest cosine; ties → the earlier pair (unit order, then slot order). Returns the cuts
 * per unit, the level k and the threshold (lowest merged cosine, or null).
 */
function exactCuts(units: MergingUnit[], m: number): { cuts: Uint8Array[]; level: number; threshold: number | null } {
  const maxLevel = Math.max(0, ...units.map((u) => u.order.length));
  const pairsAt = (k: number): number => units.reduce((s, u) => s + mergeablePairs(reservedMask(u.n, u.order, k)), 0);
  let level = maxLevel;
  if (pairsAt(maxLevel) < m) {
    let lo = 0; // pairsAt(0) = Σ (n − 1) ≥ m always
    let hi = maxLevel; // pairsAt(hi) < m
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (pairsAt(mid) >= m) lo = mid;
      else hi = mid;
    }
    level = lo;
  }
  const masks = units.map((u) => reservedMask(u.n, u.order, level));
  const cuts = units.map((u) => new Uint8Array(Math.max(0, u.n - 1)).fill(1));
  if (m <= 0) return { cuts, level, threshold: null };
  const cands: number[] = [];
  units.forEach((u, ui) => {
    const r = masks[ui]!;
    for (let i = 0; i + 1 < u.n; i++) if (!r[i] && !r[i + 1]) cands.push(u.cos[i]!);
  });
  const sorted = Float64Array.from(cands).sort();
  const tau = sorted[sorted.length - m]!;
  let eqLeft = m - (sorted.length - upperBound(sorted, tau));
  units.forEach((u, ui) => {
    const r = masks[ui]!;
    const cut = cuts[ui]!;
    for (let i = 0; i + 1 < u.n; i++) {
      if (r[i] || r[i + 1]) continue;
      const c = u.cos[i]!;
      if (c > tau || (c === tau && eqLeft-- > 0)) cut[i] = 0;
    }
  });
  return { cuts, level, threshold: tau };
}

