/** Summary statistics of a sample of numbers (non-finite values ignored). */
export interface SampleStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for n = 1. */
  sd: number;
  /** Standard error of the mean, sd / sqrt(n). */
  se: number;
  min: number;
  max: number;
}

export function sampleStats(values: Iterable<number | null>): SampleStats | null {
  const xs: number[] = [];
  for (const v of values) if (v !== null && Number.isFinite(v)) xs.push(v);
  const n = xs.length;
  if (n === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, se: sd / Math.sqrt(n), min: Math.min(...xs), max: Math.max(...xs) };
}
