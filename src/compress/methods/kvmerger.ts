import type { KVCache } from '../../cache/kv-cache.js';
import type { Budget } from '../budget.js';
import { ceilSlots } from '../budget.js';
import type { CompressionMethod, MethodInput } from '../compression-method.js';
import { gaussianMerge, pivotOf, type MergeOptions, type SigmaMode } from '../gaussian-merge.js';
import { GQA_REDUCE_OPTION, SCORES_OPTION, WINDOW_OPTION, type OptionSpec, type ResolvedOptions } from '../method-options.js';
import { adjacentCosines, mergeablePairs, mergingSets, reservationOrder, reservedMask, thresholdCuts } from '../merging-sets.js';
import { pickScores, scoreStatsRequest } from '../score-source.js';

const SHARE = (name: string, what: string): OptionSpec => ({
  name,
  type: 'enumOrNumber',
  values: ['auto'],
  min: 0,
  max: 1,
  default: 'auto',
  description: `share of the prompt reserved for ${what} (never merged); auto: the paper's value for the budget (0.5 → ${name === 'recentRatio' ? '0.17' : '0.12'}, 0.35 → ${name === 'recentRatio' ? '0.08' : '0.02'}, interpolated)`,
});

const OPTIONS: OptionSpec[] = [
  { name: 'granularity', type: 'enum', values: ['perHead', 'headShared'], default: 'perHead', description: 'perHead: each KV head its own merging sets; headShared: one layout per layer from cosines and attention averaged over its KV heads' },
  { name: 'budgetMode', type: 'enum', values: ['exact', 'faithful'], default: 'exact', description: 'exact: search the threshold so the kept slots hit the budget exactly; faithful: fixed epsilon and shares, the kept size follows (may exceed the budget)' },
  { name: 'thresholdScope', type: 'enum', values: ['layer', 'global'], default: 'layer', description: 'exact mode: one threshold per layer (each layer hits its budget) or one for the whole cache (the total hits the budget)' },
  { name: 'epsilon', type: 'number', min: -1, max: 1, default: 0.75, description: 'faithful mode: adjacent keys merge when their cosine similarity is > epsilon' },
  { name: 'sigma', type: 'enumOrNumber', values: ['meanDistance', 'rmsDistance'], min: 0, minExclusive: true, default: 'meanDistance', description: 'Gaussian kernel width: mean distance to the pivot / √2, root-mean-square distance, or a fixed number (paper\'s best: 5)' },
  { name: 'valueScale', type: 'enum', values: ['setSize', 'mass', 'none'], default: 'setSize', description: 'merged value = |S| · Σ w_i v_i (setSize, as the paper states), Σ w_i v_i (none), or (Σ m_i) · Σ w_i v_i / m_i (mass: tokens, not slots; = setSize in one-shot compression, used during the prefill)' },
  { name: 'weighting', type: 'enum', values: ['gaussian', 'mean'], default: 'gaussian', description: 'Gaussian-kernel weights around the pivot, or a plain average (the paper\'s ablation)' },
  SHARE('recentRatio', 'the most recent tokens'),
  SHARE('attnRatio', 'the highest-attention tokens'),
  { name: 'sinkTokens', type: 'integer', min: 0, default: 0, description: 'number of first tokens reserved (never merged)' },
  SCORES_OPTION,
  WINDOW_OPTION,
  GQA_REDUCE_OPTION,
];

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * The paper's reserved shares for a budget b: (0.35 → 0.08 recent, 0.02 attention) and (0.5 → 0.17, 0.12), linear
 * through these two points (extrapolated beyond them), clamped to [0, 1].
 */
export function faithfulShares(b: number): { recentRatio: number; attnRatio: number } {
  const t = (b - 0.35) / (0.5 - 0.35);
  return { recentRatio: clamp01(0.08 + t * (0.17 - 0.08)), attnRatio: clamp01(0.02 + t * (0.12 - 0.02)) };
}

/** A merging unit: one KV head (perHead) or one layer's heads sharing a layout (headShared). */
interface Unit {
  layer: number;
  heads: number[];
  n: number;
  cos: Float64Array;
  attention: ArrayLike<number>;
  order: Int32Array;
}

function buildUnits(input: MethodInput, scores: Float32Array[][], sink: number, recentRatio: number, attnRatio: number, shared: boolean): Unit[] {
  const units: Unit[] = [];
  input.cache.layers.forEach((layer, l) => {
    const make = (heads: number[], cos: Float64Array, attention: ArrayLike<number>, n: number): Unit => ({
      layer: l,
      heads,
      n,
      cos,
      attention,
      order: reservationOrder(n, attention, sink, ceilSlots(recentRatio * n), ceilSlots(attnRatio * n)),
    });
    if (!shared) {
      layer.heads.forEach((head, h) => units.push(make([h], adjacentCosines(head.keys, head.length, head.headDim), scores[l]![h]!, head.length)));
      return;
    }
    const n = layer.heads[0]!.length;
    if (layer.heads.some((hd) => hd.length !== n)) throw new Error(`kvmerger headShared: layer ${l}'s heads hold different numbers of slots`);
    const cos = new Float64Array(Math.max(0, n - 1));
    const att = new Float64Array(n);
    layer.heads.forEach((head, h) => {
      const c = adjacentCosines(head.keys, n, head.headDim);
      for (let i = 0; i < c.length; i++) cos[i] = cos[i]! + c[i]! / layer.kvHeads;
      const a = scores[l]![h]!;
      for (let j = 0; j < n; j++) att[j] = att[j]! + a[j]! / layer.kvHeads;
    });
    units.push(make(layer.heads.map((_, h) => h), cos, att, n));
  });
  return units;
}

/**
 * Exact mode for one group of units (a layer, or the whole cache) that must merge `m` adjacent pairs. Keeps the
 * largest common reservation level k (the first k slots of each unit's reservation order) that still leaves ≥ m
 * mergeable pairs, then merges the m mergeable pairs with the highest cosine; ties → the earlier pair (unit order,
 * then slot order). Returns the cuts per unit, the level k and the threshold (lowest merged cosine, or null).
 */
function exactCuts(units: Unit[], m: number): { cuts: Uint8Array[]; level: number; threshold: number | null } {
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

/** First index with sorted[i] > x. */
function upperBound(sorted: Float64Array, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Merge every set of a unit in every head it covers, then compact. Returns the number of sets. */
function applyCuts(cache: KVCache, unit: Unit, cut: Uint8Array, attentionOf: (h: number) => ArrayLike<number>, opts: MergeOptions, reserveSlots: number): number {
  const sets = mergingSets(cut, unit.n);
  if (sets.length === 0) return 0;
  for (const h of unit.heads) {
    const head = cache.layers[unit.layer]!.heads[h]!;
    const attention = unit.heads.length > 1 ? unit.attention : attentionOf(h);
    const keep: number[] = [];
    let next = 0;
    for (const [s, e] of sets) {
      for (let j = next; j < s; j++) keep.push(j);
      const p = pivotOf(attention, s, e);
      gaussianMerge(head, s, e, p, opts);
      keep.push(p);
      next = e + 1;
    }
    for (let j = next; j < unit.n; j++) keep.push(j);
    head.retain(keep, reserveSlots);
  }
  return sets.length;
}

function sigmaOf(o: ResolvedOptions): SigmaMode {
  const s = o['sigma']!;
  return typeof s === 'number' ? s : (s as 'meanDistance' | 'rmsDistance');
}

/** KVMerger: merge runs of adjacent similar keys (merging sets) into their pivot with Gaussian-kernel weights. */
export function compressKVMerger(input: MethodInput): Record<string, unknown> {
  const { cache, options, layerBudgets, reserveSlots } = input;
  const scores = pickScores(input.stats, options, 'kvmerger');
  const shared = options['granularity'] === 'headShared';
  const recentRatio = Number(options['recentRatio']);
  const attnRatio = Number(options['attnRatio']);
  const units = buildUnits(input, scores, Number(options['sinkTokens']), recentRatio, attnRatio, shared);
  const mergeOpts: MergeOptions = {
    sigma: sigmaOf(options),
    valueScale: options['valueScale'] as MergeOptions['valueScale'],
    weighting: options['weighting'] as MergeOptions['weighting'],
  };
  const L = cache.layers.length;
  const threshold: (number | null)[] = new Array<number | null>(L).fill(null);
  const reservedLevel: number[] = new Array<number>(L).fill(0);
  const cuts = new Map<Unit, Uint8Array>();
  if (options['budgetMode'] === 'faithful') {
    const eps = Number(options['epsilon']);
    for (const u of units) cuts.set(u, thresholdCuts(u.cos, reservedMask(u.n, u.order, u.order.length), eps));
    threshold.fill(eps);
    units.forEach((u) => (reservedLevel[u.layer] = u.order.length));
  } else {
    const groups: Unit[][] = options['thresholdScope'] === 'global' ? [units] : cache.layers.map((_, l) => units.filter((u) => u.layer === l));
    for (const g of groups) {
      const w = g[0]!.heads.length; // slots removed per merged pair (1, or kvHeads when heads share a layout)
      const have = g.reduce((s, u) => s + u.n, 0);
      const target = g.reduce((s, u) => s + Math.floor(layerBudgets[u.layer]! * u.heads.length / w), 0);
      const r = exactCuts(g, have - target);
      g.forEach((u, i) => cuts.set(u, r.cuts[i]!));
      for (const u of g) {
        threshold[u.layer] = r.threshold;
        reservedLevel[u.layer] = Math.min(r.level, u.order.length);
      }
    }
  }
  const sets = new Array<number>(L).fill(0);
  for (const u of units) sets[u.layer]! += applyCuts(cache, u, cuts.get(u)!, (h) => scores[u.layer]![h]!, mergeOpts, reserveSlots);
  return { recentRatio, attnRatio, thresholdCosine: threshold, reservedPerHead: reservedLevel, mergingSets: sets };
}

export const kvmergerMethod: CompressionMethod = {
  name: 'kvmerger',
  description: 'KVMerger: merges runs of adjacent tokens with similar keys into their highest-attention token (Gaussian-kernel weights); reserved recent and high-attention tokens',
  options: OPTIONS,
  resolveOptions(options: ResolvedOptions, budget: Budget): ResolvedOptions {
    const shares = faithfulShares(budget.requested);
    return {
      ...options,
      recentRatio: options['recentRatio'] === 'auto' ? round6(shares.recentRatio) : options['recentRatio']!,
      attnRatio: options['attnRatio'] === 'auto' ? round6(shares.attnRatio) : options['attnRatio']!,
    };
  },
  statsRequest: (o) => scoreStatsRequest(o),
  compress: compressKVMerger,
};

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
