import type { KVCache } from '../cache/kv-cache.js';

/** One head as plain JSON: keys after RoPE and values ([slots][headDim]), positions and masses. */
export interface HeadDump {
  keys: number[][];
  values: number[][];
  positions: number[];
  mass: number[];
}

export interface CacheDump {
  layers: { heads: HeadDump[] }[];
}

/** A deep, JSON-ready copy of the cache (for `--dump-cache`; sizes grow with T · layers · heads · headDim). */
export function cacheDump(cache: KVCache): CacheDump {
  return {
    layers: cache.layers.map((layer) => ({
      heads: layer.heads.map((h) => {
        const keys: number[][] = [];
        const values: number[][] = [];
        for (let j = 0; j < h.length; j++) {
          keys.push(Array.from(h.key(j)));
          values.push(Array.from(h.value(j)));
        }
        return {
          keys,
          values,
          positions: Array.from(h.positions.subarray(0, h.length)),
          mass: Array.from(h.mass.subarray(0, h.length)),
        };
      }),
    })),
  };
}
