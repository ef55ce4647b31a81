import { closeSync, openSync, writeSync } from 'node:fs';
import type { HeadCache } from './head-cache.js';
import type { KVCache } from './kv-cache.js';

/** One head in the `--dump-cache` JSON: keys after RoPE, values, original positions and mass, per slot. */
export interface HeadDump {
  keys: number[][];
  values: number[][];
  positions: number[];
  mass: number[];
}

/** A cache in the `--dump-cache` JSON: `{"layers": [{"heads": [HeadDump, ...]}, ...]}`. */
export interface CacheDump {
  layers: { heads: HeadDump[] }[];
}

/** The whole `--dump-cache` file: the cache right before and right after compression, and the statistics used. */
export interface CompressionDump {
  before: CacheDump;
  after: CacheDump;
  /** aggregatedAttention: [layer][kvHead][slot of `before`], GQA-reduced column sums (absent when not computed). */
  stats: { aggregatedAttention?: number[][][] };
}

function rows(buf: Float32Array, n: number, d: number): number[][] {
  return Array.from({ length: n }, (_, j) => Array.from(buf.subarray(j * d, (j + 1) * d)));
}

export function headDump(h: HeadCache): HeadDump {
  return {
    keys: rows(h.keys, h.length, h.headDim),
    values: rows(h.values, h.length, h.headDim),
    positions: Array.from(h.positions.subarray(0, h.length)),
    mass: Array.from(h.mass.subarray(0, h.length)),
  };
}

/** Serialise a cache (slots in use only) to the dump shape. */
export function cacheDump(cache: KVCache): CacheDump {
  return { layers: cache.layers.map((l) => ({ heads: l.heads.map(headDump) })) };
}

/**
 * Write `{"before": C, "after": C, "stats": {...}}` to `file`, one head at a time, so a long prompt's dump never has
 * to exist as one string in memory. `before` is a copy of the cache taken before compression (KVCache.clone()).
 */
export function writeCompressionDump(file: string, before: KVCache, after: KVCache, aggregatedAttention?: number[][][]): void {
  const fd = openSync(file, 'w');
  try {
    const put = (s: string): void => {
      writeSync(fd, s);
    };
    const writeCache = (c: KVCache): void => {
      put('{"layers":[');
      c.layers.forEach((l, li) => {
        put(`${li ? ',' : ''}{"heads":[`);
        l.heads.forEach((h, hi) => put((hi ? ',' : '') + JSON.stringify(headDump(h))));
        put(']}');
      });
      put(']}');
    };
    put('{"before":');
    writeCache(before);
    put(',"after":');
    writeCache(after);
    put(',"stats":{');
    if (aggregatedAttention) {
      put('"aggregatedAttention":[');
      aggregatedAttention.forEach((layer, li) => put((li ? ',' : '') + JSON.stringify(layer)));
      put(']');
    }
    put('}}\n');
  } finally {
    closeSync(fd);
  }
}
