import { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import type { ForwardBackend } from '../model/backend.js';
import type { ModelConfig } from '../model/model-config.js';
import { StatsAccumulator } from './stats-accumulator.js';

export interface ChunkedPrefill {
  cache: KVCache;
  /** The statistics `request` asked for, over the whole prompt; undefined when it asked for none. */
  stats: AttentionStats | undefined;
  /** The last prompt token's logits; undefined for an empty prompt. */
  lastLogits: Float32Array | undefined;
  ms: number;
}

/**
 * Prefills a new cache with `ids` in chunks of `chunkSize` tokens, accumulating the attention statistics a
 * compression method asks for (the observation window is the prompt's last `request.window` tokens). The cache holds
 * the prompt plus `reserve` slots.
 */
export async function chunkedPrefill(
  model: { readonly config: ModelConfig; readonly backend: ForwardBackend },
  ids: ArrayLike<number>,
  request: StatsRequest | undefined,
  reserve: number,
  chunkSize: number,
): Promise<ChunkedPrefill> {
  const { config, backend } = model;
  const T = ids.length;
  const want = request !== undefined && (request.columnSums || request.window > 0 || request.lastRow);
  const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim, T + reserve);
  const acc = want ? new StatsAccumulator(request) : undefined;
  const windowStart = want && request.window > 0 ? Math.max(0, T - request.window) : undefined;
  const tokens = Int32Array.from(ids);
  let lastLogits: Float32Array | undefined;
  const t0 = performance.now();
  for (let off = 0; off < T; off += chunkSize) {
    const r = await backend.forward(tokens.subarray(off, Math.min(T, off + chunkSize)), cache, {
      logits: 'last',
      ...(want ? { stats: request } : {}),
      ...(windowStart !== undefined ? { windowStart } : {}),
    });
    acc?.add(r.stats);
    lastLogits = r.logits;
  }
  return { cache, stats: acc?.result(), lastLogits, ms: performance.now() - t0 };
}
