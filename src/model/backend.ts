import type { KvType } from '../cache/head-cache.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';

export interface ForwardOptions {
  /** Which logits to return: only the last token's ([1, vocab]) or every token's ([n, vocab]). */
  logits: 'last' | 'all';
  /** Statistics to compute inside the pass (only what a compression method asked for). */
  stats?: StatsRequest;
  /**
   * For `stats.window`: absolute index (in queries since the cache was empty) of the first query that counts towards
   * `windowSums`; queries of this call before it are left out. The session sets it to `promptLength - window`.
   */
  windowStart?: number;
}

export interface ForwardResult {
  /** [1 or n, vocab] */
  logits: Float32Array;
  /**
   * Statistics of the queries in THIS call only, over the slots present after the call (per query head, in slot
   * order of its KV head). The caller accumulates across prefill chunks.
   */
  stats?: AttentionStats;
}

/**
 * A forward pass over a KV cache. `forward` runs `tokens` at positions cache.nextPosition, +1, ... : it appends their
 * keys (after RoPE) and values to every head of every layer, advances cache.nextPosition, and attends over every
 * slot each head holds (heads may hold different numbers of slots; a slot's position is only used through its key,
 * which was rotated when it was appended). Causal within the call.
 */
export interface ForwardBackend {
  readonly name: 'reference' | 'ort';
  /** How the caches this backend runs on store keys and values; sessions create their caches with it. */
  readonly kvType: KvType;
  forward(tokens: Int32Array, cache: KVCache, options: ForwardOptions): Promise<ForwardResult>;
  /** Release native resources. */
  dispose(): Promise<void>;
}
