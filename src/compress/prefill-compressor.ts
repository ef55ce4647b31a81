import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import { KvError } from '../util/errors.js';
import type { CompressionMethod, ReducedStats } from './compression-method.js';
import type { ResolvedOptions } from './method-options.js';
import { reduceToKvHeads, type GqaReduce } from './reduce-to-kv-heads.js';
import { getMethod } from './registry.js';

/**
 * Compression during a chunked prefill (`--compress-during-prefill`): after each chunk is in the cache, the chunk's
 * statistics are folded into the slots' scores and, whenever a layer holds more than its budget, the method
 * compresses the cache as it stands to the final budget (the budget of the whole prompt, known before the prefill).
 * The cache therefore never holds more than budget + one chunk per head, and the full cache never exists.
 *
 * With one chunk (chunk ≥ prompt) this is exactly the one-shot compression after the prefill. Per method
 * (docs/methods.md, "Compressing during the prefill"):
 * - column sums (h2o, kvmerger, cam with scores=all): a slot's score is the attention it received from every query
 *   seen while it was kept (accumulated in HeadCache.score; a merged slot carries its set's summed score);
 * - last row (tova, cam gateAttention=current): the last query of the chunk just processed;
 * - no statistics (streaming, knorm, random): the method runs on the cache as it stands;
 * - window statistics (snapkv, pyramidkv, scores=window): refused with a KvError — the observation window is the
 *   prompt's last queries, which do not exist before the prefill ends;
 * - what a method refuses itself (`CompressionMethod.prefillRefusal`; kvmerger budgetMode=faithful: a fixed threshold
 *   does not bound the cache).
 */
export interface PrefillCompressor {
  /** What every prefill chunk's forward pass must return (never a window). */
  readonly stats: StatsRequest;
  /**
   * Call after each chunk's forward pass, with its statistics. `nextChunk`: the next chunk's length (room left in
   * every compacted head), 0 after the last chunk (then the decode reserve is left, and compression always runs, as
   * the one-shot compression would).
   */
  afterChunk(cache: KVCache, chunkStats: AttentionStats | undefined, nextChunk: number): void;
  /** Compression rounds so far. */
  readonly rounds: number;
  /** Most slots the cache held at a chunk boundary (after appending a chunk, before compressing it). */
  readonly peakSlots: number;
  /** Milliseconds spent compressing (score updates included), summed over rounds. */
  readonly ms: number;
  /** The last round's method details. */
  readonly details: Record<string, unknown> | undefined;
}

/** What a PreparedCompression hands its prefill compressor (compress-cache.ts). */
export interface PrefillCompressorCore {
  readonly method: CompressionMethod;
  readonly options: ResolvedOptions;
  /** What the prefill computes (nothing when the budget keeps everything). */
  readonly statsRequest: StatsRequest;
  /** What the method asks for with these options, whatever the budget (decides whether it can run at all). */
  readonly methodRequest: StatsRequest;
  readonly gqaReduce: GqaReduce;
  /** True when the budget keeps everything (nothing ever runs). */
  readonly noop: boolean;
  /** [layer] slots per KV head, resolved for this cache; `full`: every head may keep the whole prompt. */
  layerBudgets(cache: KVCache): { layerBudgets: number[]; full: boolean };
  /** Run the method on the cache with these (already reduced) statistics. */
  compress(cache: KVCache, stats: ReducedStats, reserveSlots: number): Record<string, unknown> | undefined;
  /** Decode reserve left after the last round. */
  readonly reserveSlots: number;
}

/**
 * Why this method and these options cannot compress during the prefill; undefined when they can. Window statistics
 * are refused for every method (the observation window exists only once the prefill has ended); anything else is the
 * method's own `prefillRefusal`.
 */
export function prefillUnsupported(method: string | CompressionMethod, options: ResolvedOptions, request: StatsRequest): string | undefined {
  const m = typeof method === 'string' ? getMethod(method) : method;
  if (request.window > 0) {
    // a method with a `scores` option reads the window only when asked to
    const chosen = m.options.some((o) => o.name === 'scores');
    const why = chosen ? `${m.name} with scores=window scores tokens` : `${m.name} scores tokens`;
    return `${why} by the prompt's last ${request.window} queries, which exist only once the prefill has ended; drop --compress-during-prefill${chosen ? ' or use scores=all' : ''}`;
  }
  return m.prefillRefusal?.(options);
}

export function createPrefillCompressor(core: PrefillCompressorCore): PrefillCompressor {
  const why = prefillUnsupported(core.method, core.options, core.methodRequest);
  if (why) throw new KvError(`--compress-during-prefill: ${why}`);
  const req = core.statsRequest;
  const stats: StatsRequest = { columnSums: req.columnSums, window: 0, lastRow: req.lastRow };
  let budgets: { layerBudgets: number[]; full: boolean } | undefined;
  let rounds = 0;
  let peakSlots = 0;
  let ms = 0;
  let details: Record<string, unknown> | undefined;
  return {
    stats,
    afterChunk(cache, chunkStats, nextChunk) {
      peakSlots = Math.max(peakSlots, cache.slots());
      if (core.noop) return;
      const t0 = performance.now();
      budgets ??= core.layerBudgets(cache);
      if (budgets.full) return;
      // Scores: every query seen so far, over the slots present when it was processed (the chunk's column sums
      // cover exactly the slots the cache holds now).
      if (stats.columnSums) {
        if (!chunkStats?.columnSums) throw new Error('prefill compression: the chunk returned no columnSums; pass compressor.stats to the forward pass');
        cache.layers.forEach((layer, l) => {
          const reduced = reduceToKvHeads(chunkStats.columnSums![l]!, layer.kvHeads, core.gqaReduce);
          layer.heads.forEach((head, h) => {
            const r = reduced[h]!;
            if (r.length !== head.length) throw new Error(`prefill compression: layer ${l} head ${h} has ${head.length} slots, the chunk's statistics cover ${r.length}`);
            for (let j = 0; j < r.length; j++) head.score[j] = head.score[j]! + r[j]!;
          });
        });
      }
      const last = nextChunk <= 0;
      const over = cache.layers.some((layer, l) => layer.slots() > budgets!.layerBudgets[l]! * layer.kvHeads);
      if (last || over) {
        if (stats.lastRow && !chunkStats?.lastRow) throw new Error('prefill compression: the chunk returned no lastRow; pass compressor.stats to the forward pass');
        const reduced: ReducedStats = {
          // Copies: a method may rewrite HeadCache.score (merges) while it still reads the scores.
          columnSums: stats.columnSums ? cache.layers.map((layer) => layer.heads.map((head) => head.score.slice(0, head.length))) : undefined,
          lastRow: stats.lastRow ? cache.layers.map((layer, l) => reduceToKvHeads(chunkStats!.lastRow![l]!, layer.kvHeads, core.gqaReduce)) : undefined,
        };
        details = core.compress(cache, reduced, last ? core.reserveSlots : nextChunk) ?? details;
        rounds++;
      }
      ms += performance.now() - t0;
    },
    get rounds() {
      return rounds;
    },
    get peakSlots() {
      return peakSlots;
    },
    get ms() {
      return ms;
    },
    get details() {
      return details;
    },
  };
}
