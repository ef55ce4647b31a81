/**
 * The `k` indices in [from, to) with the highest `score` (ties: the later index wins), returned in increasing order.
 * Used by every score-based selection, so that one tie rule holds project-wide.
 */
export function topIndices(score: ArrayLike<number>, from: number, to: number, k: number): number[] {
  return firstIndices(from, to, k, (a, b) => score[b]! - score[a]! || b - a);
}

/** The `k` indices in [from, to) with the LOWEST `score` (ties: the later index wins), in increasing order. */
export function bottomIndices(score: ArrayLike<number>, from: number, to: number, k: number): number[] {
  return firstIndices(from, to, k, (a, b) => score[a]! - score[b]! || b - a);
}

/** The first `k` indices of [from, to) in `order` (a sort comparator), returned in increasing order. */
function firstIndices(from: number, to: number, k: number, order: (a: number, b: number) => number): number[] {
  const n = to - from;
  if (k <= 0 || n <= 0) return [];
  const idx = Array.from({ length: n }, (_, i) => from + i);
  if (k < n) {
    idx.sort(order);
    idx.length = k;
  }
  return idx.sort((a, b) => a - b);
}

/** Index of the lowest score in [from, to) (ties: the earliest), or -1 when the range is empty. */
export function argminFrom(score: ArrayLike<number>, from: number, to: number): number {
  let best = -1;
  for (let j = from; j < to; j++) if (best < 0 || score[j]! < score[best]!) best = j;
  return best;
}

/** The sorted union of index lists. */
export function sortedUnion(...lists: readonly number[][]): number[] {
  const s = new Set<number>();
  for (const l of lists) for (const x of l) s.add(x);
  return [...s].sort((a, b) => a - b);
}

/** [from, from+1, ..., to-1]. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
