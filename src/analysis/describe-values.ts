/** Mean, spread and quantiles of a list of numbers, for the analysis JSON (non-finite values are ignored). */
export interface ValueSummary {
  n: number;
  mean: number;
  /** Population standard deviation (the spread of the values themselves, not an error of the mean). */
  std: number;
  min: number;
  max: number;
  /** 10th, 50th and 90th percentiles (linear interpolation between order statistics). */
  p10: number;
  median: number;
  p90: number;
}

/** Quantile q ∈ [0, 1] of sorted values (linear interpolation, as numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Summary of `values`, or null when none is finite. */
export function describeValues(values: Iterable<number>): ValueSummary | null {
  const xs: number[] = [];
  for (const v of values) if (Number.isFinite(v)) xs.push(v);
  const n = xs.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(xs).sort();
  let sum = 0;
  for (const x of xs) sum += x;
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return {
    n,
    mean,
    std: Math.sqrt(ss / n),
    min: sorted[0]!,
    max: sorted[n - 1]!,
    p10: quantileSorted(sorted, 0.1),
    median: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
  };
}

/** Share of the finite values strictly above `threshold` (0 when there are none). */
export function shareAbove(values: Iterable<number>, threshold: number): number {
  let n = 0;
  let above = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    n++;
    if (v > threshold) above++;
  }
  return n > 0 ? above / n : 0;
}
