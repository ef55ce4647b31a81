import { defineMethod } from '../compression-method.js';
import { defineOptions, option, type OptionsOf } from '../method-options.js';
import { SNAP_OPTIONS, compressSnap, snapStatsRequest } from './snapkv.js';

const OPTIONS = {
  ...SNAP_OPTIONS,
  beta: option.number({ min: 1, default: 20, description: 'pyramid steepness: the last layer keeps (mean − w)/beta non-window slots, the first 2(mean − w) minus that' }),
} as const;
export type PyramidKVOptions = OptionsOf<typeof OPTIONS>;

/**
 * PyramidKV's per-layer budgets (slots per KV head): with mean m = Σ uniform / L and non-window mean a = m − w,
 * layer l gets w + max − l·(max − min)/(L − 1) where min = a/beta and max = 2a − min (a linear pyramid whose mean
 * is m). Real values are floored, capped at the prompt length, and the slots lost to flooring and capping are given
 * back one by one from the first layer on (to layers below the cap), so the total stays Σ uniform whenever possible.
 * When m ≤ w (no room beyond the window) or L = 1 the uniform budgets are kept.
 */
export function pyramidBudgets(uniform: readonly number[], options: { window: number; beta: number }, promptLength: number): number[] {
  const L = uniform.length;
  const total = uniform.reduce((a, b) => a + b, 0);
  const { window: w, beta } = options;
  const mean = total / L;
  if (L === 1 || mean <= w) return uniform.slice();
  const a = mean - w;
  const min = a / beta;
  const max = 2 * a - min;
  const real = Array.from({ length: L }, (_, l) => w + max - (l * (max - min)) / (L - 1));
  const out = real.map((x) => Math.max(1, Math.min(promptLength, Math.floor(x + 1e-9))));
  let left = total - out.reduce((s, x) => s + x, 0);
  for (let pass = 0; left > 0 && pass < promptLength; pass++) {
    let gave = false;
    for (let l = 0; l < L && left > 0; l++) {
      if (out[l]! < promptLength) {
        out[l]!++;
        left--;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return out;
}

/** PyramidKV: SnapKV's selection with budgets that shrink linearly from the first layer to the last. */
export const pyramidkvMethod = defineMethod<PyramidKVOptions>({
  name: 'pyramidkv',
  description: 'PyramidKV: SnapKV scores with per-layer budgets shrinking linearly from the first to the last layer (same total)',
  schema: defineOptions(OPTIONS),
  statsRequest: snapStatsRequest,
  layerBudgets: pyramidBudgets,
  compress: (input) => compressSnap(input, 'pyramidkv'),
});
