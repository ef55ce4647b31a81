/**
 * Sliding-window layers (gemma2, gemma3) in the cache. A sliding layer's query at position p sees only slots at
 * positions p − window + 1 … p (the forward passes mask the rest by slot position), so once the next position is
 * N, a slot at a position ≤ N − window can never be seen again: `dropOutsideWindow` removes those, which bounds a
 * sliding layer's cache by its window as llama.cpp's SWA cache is. Compression methods see only the global layers
 * unless asked to include the sliding ones (`globalLayersView`, `selectStatsLayers`); see docs/methods.md,
 * "Sliding-window layers".
 */
import type { AttentionStats } from './attention-stats.js';
import { KVCache } from './kv-cache.js';

/** What the cache needs to know of a model's sliding window (ModelConfig.slidingWindow). */
export interface SlidingLayers {
  size: number;
  /** layers[l] true when layer l is a sliding-window layer. */
  layers: boolean[];
}

/**
 * Removes from every head of every sliding layer the slots no future query can see (position ≤ nextPosition −
 * window), when a head has at least `slack` of them (so decoding does not reallocate at every step; default 1:
 * remove them all now). Returns the number of slots removed.
 */
export function dropOutsideWindow(cache: KVCache, sliding: SlidingLayers, slack = 1): number {
  const oldest = cache.nextPosition - sliding.size + 1; // the oldest position a future query sees
  let removed = 0;
  cache.layers.forEach((layer, l) => {
    if (!sliding.layers[l]) return;
    for (const h of layer.heads) {
      let dead = 0;
      for (let i = 0; i < h.length; i++) if (h.positions[i]! < oldest) dead++;
      if (dead === 0 || dead < slack) continue;
      const keep: number[] = [];
      for (let i = 0; i < h.length; i++) if (h.positions[i]! >= oldest) keep.push(i);
      h.retain(keep, slack);
      removed += dead;
    }
  });
  return removed;
}

/** Indices of the global (not sliding) layers. */
export function globalLayerIndices(sliding: SlidingLayers, layers: number): number[] {
  return Array.from({ length: layers }, (_, l) => l).filter((l) => !sliding.layers[l]);
}

/**
 * A cache that holds only the given layers of `cache` (the same HeadCache objects, so compressing the view
 * compresses those layers of the cache) at the same next position.
 */
export function layersView(cache: KVCache, layers: number[]): KVCache {
  const v = new KVCache(0, 0, 1, 16, cache.kvType);
  v.layers = layers.map((l) => cache.layers[l]!);
  v.nextPosition = cache.nextPosition;
  return v;
}

/** The statistics of the given layers only (per-layer arrays picked, in the same order as `layersView`). */
export function selectStatsLayers(stats: AttentionStats | undefined, layers: number[]): AttentionStats | undefined {
  if (!stats) return undefined;
  const out: AttentionStats = { ...stats };
  if (stats.columnSums) out.columnSums = layers.map((l) => stats.columnSums![l]!);
  if (stats.windowSums) out.windowSums = layers.map((l) => stats.windowSums![l]!);
  if (stats.lastRow) out.lastRow = layers.map((l) => stats.lastRow![l]!);
  return out;
}
