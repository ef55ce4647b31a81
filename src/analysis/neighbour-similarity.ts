/**
 * Similarity of a token to its neighbours at offsets ±1 … ±k (the paper's Figure 3a), for keys or values, per layer
 * over every KV head and token. Averaged over all tokens, offset −d covers exactly the pairs of offset +d, so the
 * statistics are computed once per |d| and reported for both signs.
 */
import type { KVCache } from '../cache/kv-cache.js';
import { rowNorms } from '../compress/row-norms.js';
import { offsetCosines } from './cosine-similarity.js';
import { describeValues, shareAbove, type ValueSummary } from './describe-values.js';

export type VectorKind = 'keys' | 'values';

/** The flat [n, dim] vectors of one head. */
export function headVectors(cache: KVCache, layer: number, head: number, kind: VectorKind): { vecs: Float32Array; n: number; dim: number } {
  const h = cache.layers[layer]!.heads[head]!;
  return { vecs: kind === 'keys' ? h.keysInUse() : h.valuesInUse(), n: h.length, dim: h.headDim };
}

export interface OffsetStats extends ValueSummary {
  /** The offset |d| (the same numbers hold for −d). */
  offset: number;
  /** Share of pairs at this offset with cosine > the threshold. */
  aboveThreshold: number;
  /** Mean over tokens of each KV head separately, [kvHead]. */
  perHeadMean: number[];
}

export interface LayerNeighbourStats {
  layer: number;
  /** [offset − 1] statistics over every head and token pair of this layer. */
  offsets: OffsetStats[];
  /**
   * Share of tokens (with neighbours on both sides within ±k, over every head) whose most similar neighbour among
   * ±1 … ±k is at ±1: the "strongest between adjacent tokens" claim, read per token.
   */
  nearestIsAdjacent: number;
}

/** Accumulates one layer's per-offset cosines over heads and samples. */
export class NeighbourAccumulator {
  readonly k: number;
  readonly threshold: number;
  private readonly values: number[][];
  private readonly perHead = new Map<number, { sum: Float64Array; count: Float64Array }>();
  private nearestAdj = 0;
  private nearestN = 0;

  constructor(k: number, threshold = 0.9) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`neighbour offsets: k = ${k} must be an integer ≥ 1`);
    this.k = k;
    this.threshold = threshold;
    this.values = Array.from({ length: k }, () => []);
  }

  /** Add one head's vectors ([n, dim]); `head` keys the per-head means. */
  add(vecs: ArrayLike<number>, n: number, dim: number, head: number): void {
    const norms = rowNorms(vecs, n, dim);
    let ph = this.perHead.get(head);
    if (!ph) this.perHead.set(head, (ph = { sum: new Float64Array(this.k), count: new Float64Array(this.k) }));
    const byOffset: Float64Array[] = [];
    for (let d = 1; d <= this.k; d++) {
      const c = offsetCosines(vecs, n, dim, d, norms);
      byOffset.push(c);
      const bucket = this.values[d - 1]!;
      for (const x of c) {
        bucket.push(x);
        ph.sum[d - 1] = ph.sum[d - 1]! + x;
      }
      ph.count[d - 1] = ph.count[d - 1]! + c.length;
    }
    // Tokens with k neighbours on both sides: is the best of the 2k neighbours adjacent? (ties: the nearer one)
    for (let i = this.k; i + this.k < n; i++) {
      let best = -Infinity;
      let bestD = 0;
      for (let d = 1; d <= this.k; d++) {
        const c = byOffset[d - 1]!;
        const right = c[i]!; // δ(i, i+d)
        const left = c[i - d]!; // δ(i−d, i)
        const m = Math.max(right, left);
        if (m > best) {
          best = m;
          bestD = d;
        }
      }
      this.nearestN++;
      if (bestD === 1) this.nearestAdj++;
    }
  }

  result(layer: number): LayerNeighbourStats {
    const heads = [...this.perHead.keys()].sort((a, b) => a - b);
    const offsets: OffsetStats[] = this.values.map((vals, i) => {
      const s = describeValues(vals) ?? { n: 0, mean: NaN, std: NaN, min: NaN, max: NaN, p10: NaN, median: NaN, p90: NaN };
      return {
        offset: i + 1,
        ...s,
        aboveThreshold: shareAbove(vals, this.threshold),
        perHeadMean: heads.map((h) => {
          const ph = this.perHead.get(h)!;
          return ph.count[i]! > 0 ? ph.sum[i]! / ph.count[i]! : NaN;
        }),
      };
    });
    return { layer, offsets, nearestIsAdjacent: this.nearestN > 0 ? this.nearestAdj / this.nearestN : NaN };
  }
}

/** Per-layer neighbour statistics of one or more caches (every layer, every KV head, every token). */
export function neighbourSimilarity(caches: readonly KVCache[], kind: VectorKind, k: number, threshold = 0.9): LayerNeighbourStats[] {
  if (caches.length === 0) return [];
  const layers = caches[0]!.layers.length;
  const out: LayerNeighbourStats[] = [];
  for (let l = 0; l < layers; l++) {
    const acc = new NeighbourAccumulator(k, threshold);
    for (const cache of caches) {
      cache.layers[l]!.heads.forEach((_, h) => {
        const { vecs, n, dim } = headVectors(cache, l, h, kind);
        acc.add(vecs, n, dim, h);
      });
    }
    out.push(acc.result(l));
  }
  return out;
}
