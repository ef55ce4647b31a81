import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import { Rng } from '../util/rng.js';
import { resolveBudget, validateBudget, type Budget, type BudgetSpec } from './budget.js';
import { NO_STATS, type CompressionMethod, type DecodePolicy, type ReducedStats } from './compression-method.js';
import type { OptionValue, ResolvedOptions } from './method-options.js';
import { reduceLayers, type GqaReduce } from './reduce-to-kv-heads.js';
import { getMethod, type MethodOptions } from './registry.js';
import { createPrefillCompressor, type PrefillCompressor } from './prefill-compressor.js';

/**
 * The options a plan may give for method `M`: `--method-option` strings, or an object typed by the method's option
 * declaration (any subset; the rest take their defaults). A method known only at run time takes any record.
 */
export type PlanOptions<M extends string> = readonly string[] | (M extends keyof MethodOptions ? Readonly<Partial<MethodOptions[M]>> : Readonly<Record<string, OptionValue>>);

/**
 * The one way to ask for compression: a method, its options and a budget. generate()'s `compression`
 * (`Compression`, generate/compression.ts) adds what a session does around it; a plan adds the prompt's length once
 * it is known.
 */
export interface CompressionRequest<M extends string = string> {
  /** A registered method name (`kvmerger methods`). */
  method: M;
  /** `key=value` strings (`--method-option`) or an object of values; missing options take their defaults. */
  options?: PlanOptions<M>;
  /** A share of the prompt's slots in (0, 1], or a budget spec. Undefined: keep everything (budget 1). */
  budget?: number | BudgetSpec;
  /** Seed of CaM's gate and of `random` (default 0). */
  seed?: number;
}

/** A request for one prompt. */
export interface CompressionPlan<M extends string = string> extends CompressionRequest<M> {
  /** Prompt tokens T (the slots of every head right after prefill). */
  promptLength: number;
  /** Extra capacity left in every compacted head for decoding (e.g. max new tokens); default 0. */
  reserveSlots?: number;
}

/** A budget as a spec (a number is a share of the prompt's slots); undefined stays undefined. */
export function budgetSpecOf(budget: number | BudgetSpec | undefined): BudgetSpec | undefined {
  return typeof budget === 'number' ? { ratio: budget } : budget;
}

/** What compression did, measured on the cache (`--json`'s `"cache"` object). */
export interface CompressionReport {
  method: string;
  /** Every option with its value, defaults and derived values ('auto') included. */
  options: ResolvedOptions;
  /** The budget asked for, as a share of the prompt's slots (a token budget as its share; 1 when none was given). */
  budgetRequested: number;
  /** Kept slots / (T · layers · kvHeads), counted on the cache after compression. */
  budgetAchieved: number;
  /** KV bytes before compression, and after (HeadCache.bytes: 4 bytes per key/value element). */
  bytesFull: number;
  bytesKept: number;
  /** Slots per layer after compression (summed over KV heads). */
  slotsPerLayer: number[];
  compressMs: number;
  /** Method-specific details (KVMerger: thresholds, reserved counts, merging sets; CaM: merges). */
  details?: Record<string, unknown>;
  /**
   * Present when the cache was compressed during the prefill (`bytesFull` is then what the full cache would have
   * held; it never existed): rounds of compression, and the most slots / KV bytes the cache held at a chunk boundary.
   */
  duringPrefill?: { rounds: number; peakSlots: number; peakBytes: number };
}

/**
 * A plan checked and resolved before the prefill runs (so bad options fail fast). Use `statsRequest` for the
 * prefill's forward passes, then `compress(cache, stats)` once after the prefill, then `decodePolicy(cache)`.
 */
export interface PreparedCompression {
  readonly method: CompressionMethod;
  /** Options parsed and defaulted ('auto' values resolve in `compress`, once the cache's shape is known). */
  readonly options: ResolvedOptions;
  readonly budgetSpec: BudgetSpec | undefined;
  readonly promptLength: number;
  /** What the prefill must compute (nothing for a budget of 1). */
  readonly statsRequest: StatsRequest;
  /** How the method combines query heads onto KV heads ('mean' for methods without the option). */
  readonly gqaReduce: GqaReduce;
  /**
   * Compress the cache in place after prefill; also seeds HeadCache.score from the prefill's column sums (or window
   * sums when only those were computed).
   */
  compress(cache: KVCache, stats: AttentionStats | undefined): CompressionReport;
  /**
   * The decode-time policy, when the options ask for one (e.g. h2o when=decode) and the budget is below 1; undefined
   * otherwise. It can be created before the cache exists: it takes its per-layer budgets from `compress` (or, if
   * compress never ran, from the first cache it sees).
   */
  decodePolicy(): DecodePolicy | undefined;
  /** [layer][kvHead][slot] the GQA-reduced column sums (for --dump-cache); undefined when not computed. */
  aggregatedAttention(cache: KVCache, stats: AttentionStats | undefined): number[][][] | undefined;
  /**
   * Compress during the chunked prefill instead of once after it (`--compress-during-prefill`; see
   * prefill-compressor.ts): feed every chunk's statistics (`stats` of the compressor) to `afterChunk`, then call
   * `reportAfterPrefill` for the report (the session does this for `compression.duringPrefill`). Throws
   * KvError for methods and options that cannot (window statistics, kvmerger budgetMode=faithful). One per prefill.
   */
  prefillCompressor(): PrefillCompressor;
  /** The report after a prefill that compressed with `compressor` (the cache as it is now). */
  reportAfterPrefill(cache: KVCache, compressor: PrefillCompressor): CompressionReport;
}

/** Validate a plan and prepare it. Throws KvError for an unknown method, a bad option or a bad budget. */
export function prepareCompression<M extends string>(request: CompressionPlan<M>): PreparedCompression {
  const method = getMethod(request.method);
  // the typed object form is checked again here, against the same declaration (the library may pass anything)
  const options = method.schema.parse(method.name, request.options as readonly string[] | Readonly<Record<string, OptionValue>> | undefined);
  const plan = { ...request, budget: budgetSpecOf(request.budget) };
  if (plan.budget) validateBudget(plan.budget, plan.promptLength);
  const noop = !plan.budget || ('ratio' in plan.budget && plan.budget.ratio >= 1) || ('tokens' in plan.budget && (plan.budget.per ?? 'layer') === 'layer' && plan.budget.tokens >= plan.promptLength);
  const gqaReduce = gqaReduceOf(options);
  const seed = plan.seed ?? 0;
  const reserveSlots = plan.reserveSlots ?? 0;
  const statsRequest = noop ? NO_STATS : method.statsRequest(options);
  let resolved: { budget: Budget; options: ResolvedOptions; layerBudgets: number[] } | undefined;

  const resolveFor = (cache: KVCache) => {
    const layers = cache.layers.length;
    const kvHeads = cache.layers[0]?.kvHeads ?? 0;
    const budget = resolveBudget(plan.budget ?? { ratio: 1 }, plan.promptLength, layers, kvHeads);
    const opts = method.resolveOptions ? method.resolveOptions(options, budget) : options;
    const layerBudgets = method.layerBudgets ? method.layerBudgets(budget.perLayer, opts, plan.promptLength) : budget.perLayer.slice();
    return { budget, options: opts, layerBudgets };
  };

  return {
    method,
    options,
    budgetSpec: plan.budget,
    promptLength: plan.promptLength,
    statsRequest,
    gqaReduce,
    compress(cache, stats) {
      const t0 = performance.now();
      const bytesFull = cache.bytes();
      resolved = resolveFor(cache);
      let details: Record<string, unknown> | undefined;
      const kv = cache.layers.map((l) => l.kvHeads);
      // Reduce only what the method asked for (a caller may pass more); the column sums also seed the scores.
      const want = statsRequest;
      const reduced: ReducedStats = {
        columnSums: stats?.columnSums && (want.columnSums || !want.window) ? reduceLayers(stats.columnSums, kv, gqaReduce) : undefined,
        windowSums: stats?.windowSums && want.window > 0 ? reduceLayers(stats.windowSums, kv, gqaReduce) : undefined,
        lastRow: stats?.lastRow && want.lastRow ? reduceLayers(stats.lastRow, kv, gqaReduce) : undefined,
      };
      const seed0 = reduced.columnSums ?? reduced.windowSums;
      if (seed0) setScores(cache, seed0);
      if (!noop && !resolved.budget.full) {
        details = method.compress({
          cache,
          options: resolved.options,
          budget: resolved.budget,
          layerBudgets: resolved.layerBudgets,
          stats: reduced,
          promptLength: plan.promptLength,
          rng: new Rng(seed),
          reserveSlots,
        }) ?? undefined;
      }
      const layers = cache.layers.length;
      const kvHeads = cache.layers[0]?.kvHeads ?? 0;
      return {
        method: method.name,
        options: resolved.options,
        budgetRequested: plan.budget ? resolved.budget.requested : 1,
        budgetAchieved: cache.slots() / (plan.promptLength * layers * kvHeads),
        bytesFull,
        bytesKept: cache.bytes(),
        slotsPerLayer: cache.slotsPerLayer(),
        compressMs: performance.now() - t0,
        ...(details ? { details } : {}),
      };
    },
    decodePolicy() {
      if (noop || !method.decodePolicy) return undefined;
      // Filled on the first step, once the cache's shape is known; the policy reads it at every step.
      const layerBudgets: number[] = [];
      // A separate stream from compress's, so the decode gate does not depend on how many prefill draws were made.
      const inner = method.decodePolicy({ options, layerBudgets, rng: new Rng(seed + 0x9e3779b9) });
      if (!inner) return undefined;
      let full = false;
      return {
        stats: inner.stats,
        afterDecodeStep(cache, stats) {
          if (layerBudgets.length === 0) {
            const r = resolved ?? (resolved = resolveFor(cache));
            layerBudgets.push(...r.layerBudgets);
            full = r.budget.full;
          }
          if (!full) inner.afterDecodeStep(cache, stats);
        },
        get evicted() {
          return inner.evicted;
        },
      };
    },
    prefillCompressor() {
      const rng = new Rng(seed); // one stream over all rounds: the first round draws what one-shot compression draws
      let repeated = false;
      return createPrefillCompressor({
        method,
        options,
        statsRequest,
        methodRequest: method.statsRequest(options),
        gqaReduce,
        noop,
        reserveSlots,
        layerBudgets(cache) {
          resolved ??= resolveFor(cache);
          return { layerBudgets: resolved.layerBudgets, full: resolved.budget.full };
        },
        compress(cache, stats, reserve) {
          const r = resolved ?? (resolved = resolveFor(cache));
          // Options of repeated rounds on a cache that may hold merged slots (the method's capability; KVMerger's
          // |S| then counts tokens). The report shows them.
          if (method.repeatedRoundOptions && !repeated) r.options = method.repeatedRoundOptions(r.options);
          repeated = true;
          return method.compress({ cache, options: r.options, budget: r.budget, layerBudgets: r.layerBudgets, stats, promptLength: plan.promptLength, rng, reserveSlots: reserve }) ?? undefined;
        },
      });
    },
    reportAfterPrefill(cache, compressor) {
      const layers = cache.layers.length;
      const kvHeads = cache.layers[0]?.kvHeads ?? 0;
      const headDim = cache.layers[0]?.heads[0]?.headDim ?? 0;
      const slotBytes = headDim * 2 * 4;
      const r = resolved ?? (resolved = resolveFor(cache));
      return {
        method: method.name,
        options: r.options,
        budgetRequested: plan.budget ? r.budget.requested : 1,
        budgetAchieved: cache.slots() / (plan.promptLength * layers * kvHeads),
        bytesFull: plan.promptLength * layers * kvHeads * slotBytes,
        bytesKept: cache.bytes(),
        slotsPerLayer: cache.slotsPerLayer(),
        compressMs: compressor.ms,
        ...(compressor.details ? { details: compressor.details } : {}),
        duringPrefill: { rounds: compressor.rounds, peakSlots: compressor.peakSlots, peakBytes: compressor.peakSlots * slotBytes },
      };
    },
    aggregatedAttention(cache, stats) {
      if (!stats?.columnSums) return undefined;
      return reduceLayers(stats.columnSums, cache.layers.map((l) => l.kvHeads), gqaReduce).map((layer) => layer.map((a) => Array.from(a)));
    },
  };
}

/** The method's `gqaReduce` option ('mean' for methods without one). */
function gqaReduceOf(options: ResolvedOptions): GqaReduce {
  const g = options['gqaReduce'];
  return g === 'max' || g === 'sum' ? g : 'mean';
}

/** One-call form: prepare the plan and compress the cache after prefill. */
export function compressCache<M extends string>(cache: KVCache, stats: AttentionStats | undefined, plan: CompressionPlan<M>): CompressionReport {
  return prepareCompression(plan).compress(cache, stats);
}

/** HeadCache.score ← the reduced statistic ([layer][kvHead][slot]), before compression. */
function setScores(cache: KVCache, reduced: Float32Array[][]): void {
  cache.layers.forEach((layer, l) =>
    layer.heads.forEach((head, h) => {
      const r = reduced[l]![h]!;
      if (r.length !== head.length) throw new Error(`compress: layer ${l} head ${h} has ${head.length} slots, the statistics cover ${r.length}`);
      head.score.set(r);
    }),
  );
}
