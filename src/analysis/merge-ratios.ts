/**
 * KVMerger's per-layer compression ratio at a fixed threshold (the paper's Figure 3b), computed with the method's
 * own merging-set identification (compress/methods/kvmerger/merging-sets.ts): cut between adjacent slots whose cosine is ≤ ε or
 * where either is reserved; every merging set of s slots becomes one. The kept ratio of a layer is its kept slots
 * over (slots × KV heads). The same rule on adjacent VALUE cosines gives the contrast the paper draws.
 */
import type { KVCache } from '../cache/kv-cache.js';
import { ceilSlots } from '../compress/budget.js';
import { adjacentCosines, mergingSets, thresholdCuts } from '../compress/methods/kvmerger/merging-sets.js';
import { reservationOrder, reservedMask } from '../compress/methods/kvmerger/reserved-tokens.js';
import { headVectors, type VectorKind } from './neighbour-similarity.js';

export interface MergeRatioOptions {
  /** Adjacent slots merge when their cosine is > epsilon (the paper: 0.75). */
  epsilon: number;
  /** Share of the prompt's most recent tokens reserved (never merged); default 0. */
  recentRatio?: number;
  /** Share reserved for the highest-attention tokens; default 0 (needs `attention` when > 0). */
  attnRatio?: number;
  /** First tokens reserved; default 0. */
  sinkTokens?: number;
  /** [layer][kvHead] aggregated attention per slot (GQA-reduced column sums), for `attnRatio`. */
  attention?: ArrayLike<number>[][];
}

export interface HeadMergeResult {
  /** Slots the head holds before merging. */
  slots: number;
  /** Slots after merging (n − Σ (|S| − 1)). */
  kept: number;
  /** Merging sets of two or more slots. */
  sets: number;
  reserved: number;
}

/** Kept slots of one head's vectors ([n, dim]) under the threshold rule. */
export function headMergeResult(vecs: ArrayLike<number>, n: number, dim: number, epsilon: number, reserved: Uint8Array): HeadMergeResult {
  const cos = adjacentCosines(vecs instanceof Float32Array ? vecs : Float32Array.from(vecs), n, dim);
  const sets = mergingSets(thresholdCuts(cos, reserved, epsilon), n);
  let merged = 0;
  for (const [s, e] of sets) merged += e - s;
  let r = 0;
  for (const x of reserved) r += x;
  return { slots: n, kept: n - merged, sets: sets.length, reserved: r };
}

export interface LayerMergeRatios {
  /** [layer] kept slots / (slots × KV heads): 1 = nothing merged, 1/T = everything merged into one slot per head. */
  keptRatio: number[];
  /** [layer][kvHead] the details behind it. */
  heads: HeadMergeResult[][];
}

/** Per-layer kept ratio of a cache's keys (KVMerger's rule) or values (the same rule on values, for contrast). */
export function layerMergeRatios(cache: KVCache, kind: VectorKind, o: MergeRatioOptions): LayerMergeRatios {
  const recent = o.recentRatio ?? 0;
  const attn = o.attnRatio ?? 0;
  const sink = o.sinkTokens ?? 0;
  if (attn > 0 && !o.attention) throw new Error('layerMergeRatios: attnRatio > 0 needs the aggregated attention');
  const heads = cache.layers.map((layer, l) =>
    layer.heads.map((_, h) => {
      const { vecs, n, dim } = headVectors(cache, l, h, kind);
      const att = o.attention?.[l]?.[h] ?? new Float32Array(n);
      if (att.length !== n) throw new Error(`layerMergeRatios: layer ${l} head ${h}: attention covers ${att.length} slots, the head holds ${n}`);
      // The method's reservation: sink, then the ⌈r·T⌉ most recent, then the ⌈a·T⌉ highest-attention slots.
      const order = reservationOrder(n, att, sink, ceilSlots(recent * n), ceilSlots(attn * n));
      return headMergeResult(vecs, n, dim, o.epsilon, reservedMask(n, order, order.length));
    }),
  );
  const keptRatio = heads.map((hs) => {
    const kept = hs.reduce((s, x) => s + x.kept, 0);
    const slots = hs.reduce((s, x) => s + x.slots, 0);
    return slots > 0 ? kept / slots : NaN;
  });
  return { keptRatio, heads };
}
