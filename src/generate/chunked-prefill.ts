import { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import type { ForwardBackend } from '../model/backend.js';
import type { ModelConfig } from '../core/model-config.js';
import { StatsAccumulator } from './stats-accumulator.js';
import { checkLogits } from './finite-logits.js';
import { dropOutsideWindow } from '../cache/sliding-window.js';

export interface ChunkedPrefill {
  cache: KVCache;
  /** The statistics `request` asked for, over the whole prompt; undefined when it asked for none. */
  stats: AttentionStats | undefined;
  /** The last prompt token's logits; undefined for an empty prompt. */
  lastLogits: Float32Array | undefined;
  ms: number;
}

/**
 * Called after each chunk's forward pass with that chunk's statistics (compression during the prefill);
 * `nextChunk` is the next chunk's length, 0 after the last.
 */
export type AfterChunk = (cache: KVCache, chunkStats: AttentionStats | undefined, nextChunk: number) => void | Promise<void>;

/**
 * Prefills a new cache with `ids` in chunks of `chunkSize` tokens, accumulating the attention statistics a
 * compression method asks for (the observation window is the prompt's last `request.window` tokens). The cache holds
 * the prompt plus `reserve` slots.
 *
 * With `afterChunk` (compression during the prefill) nothing is accumulated: each chunk's statistics go to
 * `afterChunk` (`request` must not ask for a window), the result's `stats` is undefined, and the cache starts with
 * room for one chunk only (it grows if `afterChunk` does not shrink it).
 *
 * Sliding-window layers, when no statistics are asked for: each sliding layer's heads are allocated for
 * window + chunk slots only and the slots out of the window are dropped after every chunk, so the prefill never
 * holds more than that in those layers (with statistics the whole prompt stays until the session has used them:
 * the chunks' statistics are added up by slot index).
 */
export async function chunkedPrefill(
  model: { readonly config: ModelConfig; readonly backend: ForwardBackend },
  ids: ArrayLike<number>,
  request: StatsRequest | undefined,
  reserve: number,
  chunkSize: number,
  afterChunk?: AfterChunk,
  /** Checked before each chunk: an aborted signal throws its reason. */
  signal?: AbortSignal,
): Promise<ChunkedPrefill> {
  const { config, backend } = model;
  const T = ids.length;
  const want = request !== undefined && (request.columnSums || request.window > 0 || request.lastRow);
  if (afterChunk && want && request.window > 0) throw new Error('chunkedPrefill: a window statistic cannot be given chunk by chunk');
  const capacity = afterChunk ? Math.min(T, chunkSize) + reserve : T + reserve;
  const swa = !want ? config.slidingWindow : undefined;
  const cache = new KVCache(config.blockCount, config.headCountKv, config.headDim, swa ? 1 : capacity, backend.kvType);
  if (swa) {
    cache.layers.forEach((layer, l) => {
      const cap = swa.layers[l] ? Math.min(capacity, swa.size + chunkSize + reserve) : capacity;
      for (const h of layer.heads) h.reserve(cap);
    });
  }
  const acc = want && !afterChunk ? new StatsAccumulator(request) : undefined;
  const windowStart = want && request.window > 0 ? Math.max(0, T - request.window) : undefined;
  const tokens = Int32Array.from(ids);
  let lastLogits: Float32Array | undefined;
  const t0 = performance.now();
  for (let off = 0; off < T; off += chunkSize) {
    signal?.throwIfAborted();
    const r = await backend.forward(tokens.subarray(off, Math.min(T, off + chunkSize)), cache, {
      logits: 'last',
      ...(want ? { stats: request } : {}),
      ...(windowStart !== undefined ? { windowStart } : {}),
    });
    acc?.add(r.stats);
    lastLogits = r.logits;
    checkLogits(lastLogits, Math.min(T, off + chunkSize) - 1);
    if (afterChunk) await afterChunk(cache, r.stats, Math.max(0, Math.min(chunkSize, T - off - chunkSize)));
    if (swa) dropOutsideWindow(cache, swa, Math.min(chunkSize, T));
  }
  return { cache, stats: acc?.result(), lastLogits, ms: performance.now() - t0 };
}
