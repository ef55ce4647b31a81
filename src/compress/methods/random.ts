import type { Rng } from '../../util/rng.js';
import { NO_STATS, defineMethod } from '../compression-method.js';
import { compactHeads } from '../keep-by-score.js';
import { NO_OPTIONS } from '../method-options.js';

/** `k` distinct indices of [0, n) drawn uniformly (partial Fisher–Yates), in increasing order. */
export function randomSubset(n: number, k: number, rng: Rng): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = idx[i]!;
    idx[i] = idx[j]!;
    idx[j] = t;
  }
  return idx.slice(0, m).sort((a, b) => a - b);
}

/** Random: a seeded random subset per head (the floor every method must beat); heads draw in layer, head order. */
export const randomMethod = defineMethod({
  name: 'random',
  description: 'keeps a seeded random subset of slots per head (the floor every method must beat)',
  schema: NO_OPTIONS,
  statsRequest: () => NO_STATS,
  compress: (input) => compactHeads(input, (head, b) => randomSubset(head.length, b, input.rng)),
});
