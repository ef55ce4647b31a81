import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats } from '../cache/attention-stats.js';
import { prepareCompression, type CompressionReport, type CompressionRequest } from '../compress/index.js';
import { KvError } from '../util/errors.js';
import type { GenerateOptions } from './session.js';

/**
 * Which method compresses the cache after prefill (and during decoding, where its options ask for it): a
 * compression request (method, options typed by the method, budget, seed) plus what the session does around it.
 */
export interface CompressionChoice<M extends string = string> extends CompressionRequest<M> {
  /** Called right after compression, with the cache before (only when `keepBefore`), after, and the report. */
  onCompressed?: (after: KVCache, report: CompressionReport, before?: KVCache, aggregatedAttention?: number[][][]) => void;
  /** Keep a copy of the cache before compression for `onCompressed` (costs a full copy of the cache). */
  keepBefore?: boolean;
  /**
   * Compress during the chunked prefill whenever a layer exceeds the budget, so the cache never holds much more than
   * budget + one chunk (`--compress-during-prefill`; docs/methods.md). KvError for methods scored by the prompt's
   * last queries (snapkv, pyramidkv, scores=window), kvmerger budgetMode=faithful, and with `keepBefore`.
   */
  duringPrefill?: boolean;
}

/**
 * The session's `prepareCompression` hook for a method, budget and options: validates them at once (so bad input
 * fails before a model loads), then prepares the method for each prompt's length.
 *
 *   generate(model, { prompt, maxTokens: 50, prepareCompression: compressionHook({ method: 'kvmerger', budget: 0.35 }) })
 */
export function compressionHook<M extends string>(choice: CompressionChoice<M>, reserveSlots = 0): NonNullable<GenerateOptions['prepareCompression']> {
  const check = prepareCompression({ method: choice.method, options: choice.options, budget: undefined, promptLength: 1 });
  if (choice.duringPrefill) {
    if (choice.keepBefore) throw new KvError('--compress-during-prefill: the full cache never exists, so --dump-cache cannot show it before compression; drop one of the two');
    check.prefillCompressor(); // KvError when the method or its options cannot
  }
  return (promptLength: number) => {
    const prep = prepareCompression({ ...choice, promptLength, reserveSlots });
    // A dump shows the aggregated attention whatever the method reads, so it asks the prefill for column sums too;
    // the method itself still sees only the statistics it declared, so the extra numbers cannot change its choice.
    const methodAsked = prep.stats.columnSums;
    const stats = choice.keepBefore ? { ...prep.stats, columnSums: true } : prep.stats;
    if (choice.duringPrefill) {
      const compressor = prep.prefillCompressor();
      return {
        decodePolicy: prep.decodePolicy(),
        compression: {
          stats: compressor.stats,
          duringPrefill: compressor,
          compress: (cache: KVCache) => {
            const report = prep.reportAfterPrefill(cache, compressor);
            choice.onCompressed?.(cache, report);
            return report;
          },
        },
      };
    }
    return {
      decodePolicy: prep.decodePolicy(),
      compression: {
        stats,
        compress: (cache: KVCache, all: AttentionStats) => {
          const before = choice.keepBefore ? cache.clone() : undefined;
          const aggregated = choice.keepBefore ? prep.aggregatedAttention(cache, all) : undefined;
          const own: AttentionStats = methodAsked ? all : { ...all, columnSums: undefined };
          const report = prep.compress(cache, own);
          choice.onCompressed?.(cache, report, before, aggregated);
          return report;
        },
      },
    };
  };
}
