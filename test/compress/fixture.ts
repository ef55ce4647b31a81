// Small caches and statistics for the compression tests (not a test file itself).
import { HeadCache } from '../../src/cache/head-cache.js';
import { KVCache } from '../../src/cache/kv-cache.js';
import type { AttentionStats } from '../../src/cache/attention-stats.js';
import { Rng } from '../../src/util/rng.js';

/** A head from explicit keys (and values; default: value j = [j+1, ...]), positions 0.. unless given. */
export function headOf(keys: number[][], values?: number[][], positions?: number[]): HeadCache {
  const d = keys[0]!.length;
  const h = new HeadCache(d, keys.length);
  keys.forEach((k, j) => h.append(Float32Array.from(k), Float32Array.from(values?.[j] ?? k.map(() => j + 1)), positions?.[j] ?? j));
  return h;
}

/** A one-layer one-head cache from explicit keys/values. */
export function cacheOf(keys: number[][], values?: number[][]): KVCache {
  const c = new KVCache(1, 1, keys[0]!.length, 1);
  c.layers[0]!.heads[0] = headOf(keys, values);
  c.nextPosition = keys.length;
  return c;
}

/** A cache of `layers` × `kvHeads` heads holding T random tokens (positions 0..T−1). */
export function randomCache(layers: number, kvHeads: number, headDim: number, T: number, seed = 1): KVCache {
  const rng = new Rng(seed);
  const c = new KVCache(layers, kvHeads, headDim, T);
  const k = new Float32Array(headDim);
  const v = new Float32Array(headDim);
  for (const l of c.layers) {
    for (const h of l.heads) {
      // a drifting key so that neighbours are similar, as in real models
      const base = Float32Array.from({ length: headDim }, () => rng.normal());
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < headDim; i++) {
          base[i] = base[i]! * 0.9 + rng.normal() * 0.45;
          k[i] = base[i]!;
          v[i] = rng.normal();
        }
        h.append(k, v, t);
      }
    }
  }
  c.nextPosition = T;
  return c;
}

/** Random positive statistics per query head (columnSums, windowSums, lastRow) matching the cache's slots. */
export function randomStats(cache: KVCache, queryHeads: number, seed = 2, window = 8): AttentionStats {
  const rng = new Rng(seed);
  const make = () =>
    cache.layers.map((layer) => {
      const g = queryHeads / layer.kvHeads;
      return Array.from({ length: queryHeads }, (_, q) => Float32Array.from({ length: layer.heads[Math.floor(q / g)]!.length }, () => rng.next()));
    });
  return { columnSums: make(), windowSums: make(), window, lastRow: make() };
}

/** Per-query-head statistics (one KV head, one query head) from one array per layer. */
export function statsOf(columnSums: number[], extra: Partial<Record<'windowSums' | 'lastRow', number[]>> = {}): AttentionStats {
  return {
    columnSums: [[Float32Array.from(columnSums)]],
    ...(extra.windowSums ? { windowSums: [[Float32Array.from(extra.windowSums)]], window: 4 } : {}),
    ...(extra.lastRow ? { lastRow: [[Float32Array.from(extra.lastRow)]] } : {}),
  };
}

/** Slots in use of a head as plain arrays. */
export function dumpHead(h: HeadCache): { keys: number[][]; values: number[][]; positions: number[]; mass: number[] } {
  const d = h.headDim;
  return {
    keys: Array.from({ length: h.length }, (_, j) => Array.from(h.keys.subarray(j * d, (j + 1) * d))),
    values: Array.from({ length: h.length }, (_, j) => Array.from(h.values.subarray(j * d, (j + 1) * d))),
    positions: Array.from(h.positions.subarray(0, h.length)),
    mass: Array.from(h.mass.subarray(0, h.length)),
  };
}

/** Assert-free closeness check for arrays. */
export function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > tol * Math.max(1, Math.abs(b[i]!))) return false;
  return true;
}
