import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import { prepareCompression, type CompressionReport, type CompressionRequest } from '../compress/index.js';
import type { DecodePolicy } from '../compress/compression-method.js';
import type { PrefillCompressor } from '../compress/prefill-compressor.js';
import { KvError } from '../util/errors.js';

/**
 * How generate() (and a pipeline) compresses the KV cache: a method, its options (typed by the method), a budget and
 * a seed, plus what the session does around it. The one way to ask for compression:
 *
 *   generate(model, { prompt, maxTokens: 50, compression: { method: 'kvmerger', budget: 0.35 } })
 */
export interface Compression<M extends string = string> extends CompressionRequest<M> {
  /**
   * Compress during the chunked prefill whenever a layer exceeds the budget, so the cache never holds much more than
   * budget + one chunk (`--compress-during-prefill`; docs/methods.md). KvError for methods scored by the prompt's
   * last queries (snapkv, pyramidkv, scores=window), kvmerger budgetMode=faithful, and with `keepBefore`.
   */
  duringPrefill?: boolean;
  /**
   * Models with sliding-window layers (gemma2, gemma3): let the method and its decode policy work on the sliding
   * layers too (`--compress-sliding-layers`; default false: they see only the global layers, and the sliding layers
   * keep their window, which already bounds them).
   */
  slidingLayers?: boolean;
  /** Called right after compression, with the cache after, the report, and (only with `keepBefore`) the cache before. */
  onCompressed?: (after: KVCache, report: CompressionReport, before?: KVCache, aggregatedAttention?: number[][][]) => void;
  /** Keep a copy of the cache before compression for `onCompressed` (costs a full copy of the cache; --dump-cache). */
  keepBefore?: boolean;
}

/**
 * Checks a compression before any model loads: an unknown method, a bad option, a combination that cannot compress
 * during the prefill (KvError). With `promptLength`, the budget is checked against that prompt too.
 */
export function checkCompression(compression: Compression, promptLength?: number): void {
  const check = prepareCompression({ method: compression.method, options: compression.options, budget: undefined, promptLength: 1 });
  if (compression.duringPrefill) {
    if (compression.keepBefore) throw new KvError('--compress-during-prefill: the full cache never exists, so --dump-cache cannot show it before compression; drop one of the two');
    check.prefillCompressor(); // KvError when the method or its options cannot
  }
  if (promptLength !== undefined) prepareSessionCompression(compression, promptLength, 0);
}

/** What the session runs for a compression, once the prompt's length is known. */
export interface SessionCompression {
  /** The statistics the prefill computes (and adds up over chunks) for `compress`. */
  readonly stats: StatsRequest;
  /**
   * Compression during the prefill: the prefill asks for `duringPrefill.stats` (not `stats`) and calls `afterChunk`
   * after every chunk; `compress` then only reports (its statistics are undefined).
   */
  readonly duringPrefill?: PrefillCompressor;
  /** Makes the cache smaller in place after the prefill (or reports what the prefill did) and calls `onCompressed`. */
  compress(cache: KVCache, stats: AttentionStats | undefined): CompressionReport;
  /** The decode-time policy, when the method's options ask for one (e.g. h2o when=decode). */
  readonly decodePolicy: DecodePolicy | undefined;
}

/**
 * A compression prepared for a prompt of `promptLength` tokens, with `reserveSlots` of decode room left in every
 * compacted head. KvError for a bad method, option or budget.
 */
export function prepareSessionCompression(compression: Compression, promptLength: number, reserveSlots: number): SessionCompression {
  const { method, options, budget, seed } = compression;
  const prep = prepareCompression({ method, options, budget, seed, promptLength, reserveSlots });
  if (compression.duringPrefill) {
    const compressor = prep.prefillCompressor();
    return {
      stats: compressor.stats,
      duringPrefill: compressor,
      decodePolicy: prep.decodePolicy(),
      compress: (cache) => {
        const report = prep.reportAfterPrefill(cache, compressor);
        compression.onCompressed?.(cache, report);
        return report;
      },
    };
  }
  // A dump shows the aggregated attention whatever the method reads, so it asks the prefill for column sums too;
  // the method itself still sees only the statistics it declared, so the extra numbers cannot change its choice.
  const methodAsked = prep.statsRequest.columnSums;
  const keepBefore = compression.keepBefore === true;
  return {
    stats: keepBefore ? { ...prep.statsRequest, columnSums: true } : prep.statsRequest,
    decodePolicy: prep.decodePolicy(),
    compress: (cache, all) => {
      const before = keepBefore ? cache.clone() : undefined;
      const aggregated = keepBefore ? prep.aggregatedAttention(cache, all) : undefined;
      const own: AttentionStats | undefined = methodAsked || !all ? all : { ...all, columnSums: undefined };
      const report = prep.compress(cache, own);
      compression.onCompressed?.(cache, report, before, aggregated);
      return report;
    },
  };
}
