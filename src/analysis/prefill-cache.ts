/**
 * Prefill a prompt into a fresh KV cache with the generation session's chunked prefill (no decoding), so the
 * analysis reads exactly the keys (after RoPE) and values the model caches. Optionally also returns the
 * aggregated attention per KV head (column sums, GQA-reduced), which KVMerger's attention-reserved tokens need.
 */
import type { KVCache } from '../cache/kv-cache.js';
import { dropOutsideWindow } from '../cache/sliding-window.js';
import { reduceLayers, type GqaReduce } from '../compress/reduce-to-kv-heads.js';
import { chunkedPrefill } from '../generate/chunked-prefill.js';
import { tokenizePrompt } from '../generate/session.js';
import type { SessionModel } from '../generate/session-model.js';
import { KvError } from '../util/errors.js';

export interface PrefilledCache {
  cache: KVCache;
  /** The prompt tokens prefilled (BOS included when added). */
  tokens: number[];
  /** [layer][kvHead][slot] aggregated attention, when asked for. */
  attention?: Float32Array[][];
  prefillMs: number;
}

export interface PrefillOptions {
  /** Compute the column sums of attention (for attention-reserved tokens). */
  attention?: boolean;
  gqaReduce?: GqaReduce;
  chunkSize?: number;
}

/** Content token ids with the vocabulary's BOS in front when it adds one (what the engine sees for a text prompt). */
export function withBos(model: SessionModel, contentIds: readonly number[]): number[] {
  const { tokenizer } = model;
  return tokenizer.addBos && tokenizer.bos !== undefined && contentIds[0] !== tokenizer.bos ? [tokenizer.bos, ...contentIds] : [...contentIds];
}

/**
 * Prefill `tokens` (exact ids; nothing is added). The prompt must fit the context with room for one more token,
 * as the session requires.
 */
export async function prefillCache(model: SessionModel, tokens: readonly number[], options: PrefillOptions = {}): Promise<PrefilledCache> {
  if (tokens.length === 0) throw new KvError('cannot analyse an empty prompt; give at least one token');
  if (tokens.length >= model.config.contextLength) {
    throw new KvError(`the prompt has ${tokens.length} tokens but the model's context is ${model.config.contextLength}; use fewer tokens`);
  }
  const chunkSize = options.chunkSize ?? 512;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new KvError(`chunk size must be an integer ≥ 1 (got ${options.chunkSize})`);
  const ids = tokenizePrompt(model, { promptTokens: tokens }); // every id in the vocabulary
  const pre = await chunkedPrefill(model, ids, { columnSums: options.attention === true, window: 0, lastRow: false }, 0, chunkSize);
  const { cache, stats } = pre;
  // As a session leaves it after the prefill: a sliding layer holds only the slots its window still sees.
  const swa = model.config.slidingWindow;
  if (swa) dropOutsideWindow(cache, swa);
  let attention: Float32Array[][] | undefined;
  if (options.attention) {
    if (!stats?.columnSums) throw new Error('prefillCache: the backend returned no attention column sums');
    attention = reduceLayers(stats.columnSums, cache.layers.map((l) => l.kvHeads), options.gqaReduce ?? 'mean');
  }
  return { cache, tokens: [...tokens], ...(attention ? { attention } : {}), prefillMs: pre.ms };
}
