/**
 * Summary numbers of one token × token cosine map (the paper's Figure 2 read as numbers): how similar adjacent
 * tokens are, how often they exceed a high threshold, and how that compares with tokens further apart.
 */
import { describeValues, shareAbove, type ValueSummary } from './describe-values.js';

export interface SimilaritySummary {
  tokens: number;
  /** δ(x_i, x_{i+1}) over the n − 1 adjacent pairs. */
  adjacent: ValueSummary | null;
  /** Share of adjacent pairs with cosine > `threshold`. */
  adjacentAboveThreshold: number;
  /** The threshold used for the shares (default 0.9, the paper's "highly similar"). */
  threshold: number;
  /** Mean cosine over every pair i ≠ j. */
  meanOffDiagonal: number;
  /** Share of pairs i ≠ j with cosine > `threshold`. */
  offDiagonalAboveThreshold: number;
  /** Mean cosine over pairs with |i − j| > `nearWindow` (far pairs), for contrast with the adjacent mean. */
  meanFar: number;
  nearWindow: number;
  /** Share of tokens whose most similar other token (over the whole sequence) is an adjacent one. */
  nearestIsAdjacent: number;
}

/** Summarise an n × n cosine map (row-major). */
export function summarizeSimilarity(m: ArrayLike<number>, n: number, options: { threshold?: number; nearWindow?: number } = {}): SimilaritySummary {
  if (m.length !== n * n) throw new RangeError(`summarizeSimilarity: expected ${n} × ${n} values, got ${m.length}`);
  const threshold = options.threshold ?? 0.9;
  const nearWindow = options.nearWindow ?? 8;
  const adj: number[] = [];
  for (let i = 0; i + 1 < n; i++) adj.push(m[i * n + i + 1]!);
  let off = 0;
  let offN = 0;
  let offAbove = 0;
  let far = 0;
  let farN = 0;
  let nearestAdj = 0;
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let bestJ = -1;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const c = m[i * n + j]!;
      off += c;
      offN++;
      if (c > threshold) offAbove++;
      if (Math.abs(i - j) > nearWindow) {
        far += c;
        farN++;
      }
      // Ties go to the nearer token.
      if (c > best || (c === best && Math.abs(i - j) < Math.abs(i - bestJ))) {
        best = c;
        bestJ = j;
      }
    }
    if (bestJ >= 0 && Math.abs(i - bestJ) === 1) nearestAdj++;
  }
  return {
    tokens: n,
    adjacent: describeValues(adj),
    adjacentAboveThreshold: shareAbove(adj, threshold),
    threshold,
    meanOffDiagonal: offN > 0 ? off / offN : NaN,
    offDiagonalAboveThreshold: offN > 0 ? offAbove / offN : 0,
    meanFar: farN > 0 ? far / farN : NaN,
    nearWindow,
    nearestIsAdjacent: n > 1 ? nearestAdj / n : 0,
  };
}
