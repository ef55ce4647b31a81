import type { StatsRequest } from '../../cache/attention-stats.js';
import { defineMethod, type MethodInput } from '../compression-method.js';
import { compressByScore, keepByScore } from '../keep-by-score.js';
import { GQA_REDUCE, defineOptions, option, type OptionsOf } from '../method-options.js';

/** SnapKV's options (PyramidKV adds `beta`). */
export const SNAP_OPTIONS = {
  window: option.integer({ min: 1, default: 32, description: 'observation window: the last w prompt queries score the tokens, and are kept' }),
  pooling: option.enum(['max', 'avg'], { default: 'max', description: '1-D pooling that smooths the scores so neighbours of important tokens are kept too' }),
  kernel: option.integer({ min: 1, default: 7, description: 'pooling kernel size (centred; 1 disables smoothing)' }),
  ...GQA_REDUCE,
} as const;
export type SnapKVOptions = OptionsOf<typeof SNAP_OPTIONS>;

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

/** The slots SnapKV keeps at the end of a head of n slots with budget b: the observation window, or the last b. */
function windowKept(b: number, n: number, window: number): number {
  return Math.min(b, Math.min(window, n));
}

/** SnapKV's kept slots for one head: the last min(w, n) slots plus the top pooled scores before them. */
export function snapKeep(windowSums: ArrayLike<number>, n: number, b: number, window: number, kernel: number, pooling: 'max' | 'avg'): number[] {
  const r = windowKept(b, n, window);
  return keepByScore(r < b ? pool1d(windowSums, n - r, kernel, pooling) : [], n, b, 0, r);
}

/** SnapKV compression of every layer with the given per-layer budgets (shared with PyramidKV). */
export function compressSnap(input: MethodInput<SnapKVOptions>, name: string): void {
  const { options, stats } = input;
  const sums = stats.windowSums;
  if (!sums) throw new Error(`${name}: the prefill returned no windowSums; pass prepared.statsRequest to the forward pass`);
  compressByScore(input, {
    recent: (b, n) => windowKept(b, n, options.window),
    // pooled over the slots before the window (what the selection reads)
    scores: (layer, l) => layer.heads.map((head, h) => pool1d(sums[l]![h]!, head.length - Math.min(options.window, head.length), options.kernel, options.pooling)),
  });
}

export function snapStatsRequest(o: { window: number }): StatsRequest {
  return { columnSums: false, window: o.window, lastRow: false };
}

/** SnapKV: scores from the observation window's attention, pooled; keeps the window plus the top tokens. */
export const snapkvMethod = defineMethod<SnapKVOptions>({
  name: 'snapkv',
  description: 'SnapKV: scores tokens by the last w queries\' attention (pooled), keeps the window plus the top-scoring tokens',
  schema: defineOptions(SNAP_OPTIONS),
  statsRequest: snapStatsRequest,
  compress: (input) => compressSnap(input, 'snapkv'),
});
