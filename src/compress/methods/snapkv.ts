import type { CompressionMethod } from '../compression-method.js';
import { GQA_REDUCE_OPTION, type OptionSpec, type ResolvedOptions } from '../method-options.js';
import { range, topIndices } from '../top-indices.js';

export const SNAP_OPTIONS: OptionSpec[] = [
  { name: 'window', type: 'integer', min: 1, default: 32, description: 'observation window: the last w prompt queries score the tokens, and are kept' },
  { name: 'pooling', type: 'enum', values: ['max', 'avg'], default: 'max', description: '1-D pooling that smooths the scores so neighbours of important tokens are kept too' },
  { name: 'kernel', type: 'integer', min: 1, default: 7, description: 'pooling kernel size (centred; 1 disables smoothing)' },
  GQA_REDUCE_OPTION,
];

/**
 * Centred 1-D pooling of `x[0..n)` with kernel k: `max` over the in-range neighbours, or `avg` = their sum / k
 * (zero padding at the edges, as torch's avg_pool1d with count_include_pad, which SnapKV's code uses).
 */
export function pool1d(x: ArrayLike<number>, n: number, kernel: number, mode: 'max' | 'avg'): Float64Array {
  const out = new Float64Array(n);
  const left = Math.floor(kernel / 2);
  for (let j = 0; j < n; j++) {
    const lo = Math.max(0, j - left);
    const hi = Math.min(n, j - left + kernel);
    let acc = mode === 'max' ? -Infinity : 0;
    for (let i = lo; i < hi; i++) acc = mode === 'max' ? Math.max(acc, x[i]!) : acc + x[i]!;
    out[j] = mode === 'max' ? acc : acc / kernel;
  }
  return out;
}

/** SnapKV's kept slots for one head: the last min(w, n) slots plus the top pooled scores before them. */
export function snapKeep(windowSums: ArrayLike<number>, n: number, b: number, window: number, kernel: number, pooling: 'max' | 'avg'): number[] {
  if (n <= b) return range(0, n);
  const w = Math.min(window, n);
  if (b <= w) return range(n - b, n);
  const pooled = pool1d(windowSums, n - w, kernel, pooling);
  return [...topIndices(pooled, 0, n - w, b - w), ...range(n - w, n)];
}

/** SnapKV compression of every layer with the given per-layer budgets (shared with PyramidKV). */
export function compressSnap(input: Parameters<CompressionMethod['compress']>[0], name: string): void {
  const { cache, options, layerBudgets, stats, reserveSlots } = input;
  const sums = stats.windowSums;
  if (!sums) throw new Error(`${name}: the prefill returned no windowSums; pass prepared.statsRequest to the forward pass`);
  const w = Number(options['window']);
  const kernel = Number(options['kernel']);
  const pooling = options['pooling'] as 'max' | 'avg';
  cache.layers.forEach((layer, l) => {
    const b = layerBudgets[l]!;
    layer.heads.forEach((head, h) => {
      if (head.length > b) head.retain(snapKeep(sums[l]![h]!, head.length, b, w, kernel, pooling), reserveSlots);
    });
  });
}

export function snapStatsRequest(o: ResolvedOptions) {
  return { columnSums: false, window: Number(o['window']), lastRow: false };
}

/** SnapKV: scores from the observation window's attention, pooled; keeps the window plus the top tokens. */
export const snapkvMethod: CompressionMethod = {
  name: 'snapkv',
  description: 'SnapKV: scores tokens by the last w queries\' attention (pooled), keeps the window plus the top-scoring tokens',
  options: SNAP_OPTIONS,
  statsRequest: snapStatsRequest,
  compress: (input) => compressSnap(input, 'snapkv'),
};
