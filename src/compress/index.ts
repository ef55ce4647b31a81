/**
 * KV-cache compression: the methods, budgets and decode-time policies (spec: ../shared/spec/kv-compression.md;
 * explanations and every decision on open points: docs/methods.md).
 *
 * ## How the generation session uses this module
 *
 * ```ts
 * // 1. Before the prefill (fails fast on an unknown method, a bad option or a bad budget — KvError):
 * const prep = prepareCompression({
 *   method: 'kvmerger',                       // `kvmerger methods` lists them
 *   options: ['epsilon=0.8', 'granularity=headShared'],   // --method-option values, or { epsilon: 0.8 }
 *   budget: parseBudgetFlags(flags.budget, flags.budgetTokens, flags.budgetTokensPer),  // undefined → no compression
 *   promptLength: promptTokens.length,
 *   seed,                                      // CaM's gate, random
 *   reserveSlots: maxNewTokens,                // decode room left in every compacted head
 * });
 * // A caller of generate() never does this: it passes the request, and the session prepares it once the prompt's
 * // length is known (generate/compression.ts) and runs the steps below:
 * const result = await generate(model, { promptTokens, compression: { method: 'kvmerger', budget: 0.35 } });
 * // result.compression is the CompressionReport (--json's "cache" object).
 * ```
 *
 * What happens inside, step by step (for a caller that drives the backend itself):
 * - prefill with `stats: prep.statsRequest` (and `windowStart = T − statsRequest.window` when window > 0),
 *   accumulating the statistics over chunks;
 * - `prep.aggregatedAttention(cache, stats)` BEFORE compressing, for --dump-cache (with `cacheDump` of the cache
 *   before and after);
 * - `prep.compress(cache, stats)` once: seeds HeadCache.score with the reduced column sums, compresses, reports;
 * - per decode step: `forward(..., { stats: policy.stats })`, then `policy.afterDecodeStep(cache, step.stats)`,
 *   which adds the step's attention row to HeadCache.score (GQA-reduced) and evicts/merges down to the budget.
 *   Without a policy nothing needs to run per step (call `accumulateScores` only to keep scores for inspection).
 *
 * A method sees only the cache, the statistics it declared (reduced from query heads to KV heads with its
 * `gqaReduce`) and the budget; it compacts heads physically (HeadCache.retain / removeAt) and never renumbers
 * positions. The session never needs to know a method's internals.
 *
 * ## How a method is written (docs/methods.md, "How to add a new method")
 *
 * - options: one declaration, `defineOptions({ name: option.enum | number | integer | enumOrNumber })`, gives the
 *   listing, the parser with its errors, and the type the method reads (`OptionsOf`);
 * - selection: `compressByScore(input, { sinks?, recent?, scores, keep? })` (keep-by-score.ts) does the layer →
 *   head loop, budgets, reserved slots, the top-k and the compaction; a method only scores;
 * - decoding: `evictionPolicy(layerBudgets, { stats, begin?, victim })` (eviction-policy.ts) evicts and counts;
 * - what else differs is a capability on `CompressionMethod` (`layerBudgets`, `resolveOptions`, `prefillRefusal`,
 *   `repeatedRoundOptions`), never a test of the method's name in shared code.
 */
export type { BudgetSpec, Budget } from './budget.js';
export { resolveBudget, validateBudget, parseBudgetFlags, floorSlots, ceilSlots } from './budget.js';
export type { CompressionMethod, MethodInput, PolicyInput, DecodePolicy, ReducedStats } from './compression-method.js';
export { NO_STATS, defineMethod } from './compression-method.js';
export type { OptionSpec, OptionValue, ResolvedOptions, OptionDecl, OptionSchema, OptionsOf } from './method-options.js';
export { parseMethodOptions, parseOptionValue, describeOptionType, defineOptions, option, NO_OPTIONS } from './method-options.js';
export type { ScoreRule } from './keep-by-score.js';
export { compressByScore, compactHeads, keepByScore } from './keep-by-score.js';
export type { EvictionRule } from './eviction-policy.js';
export { evictionPolicy } from './eviction-policy.js';
export type { CompressionRequest, CompressionPlan, PlanOptions, CompressionReport, PreparedCompression } from './compress-cache.js';
export { prepareCompression, compressCache, budgetSpecOf } from './compress-cache.js';
export type { PrefillCompressor } from './prefill-compressor.js';
export { prefillUnsupported } from './prefill-compressor.js';
export type { GqaReduce } from './reduce-to-kv-heads.js';
export { reduceToKvHeads, reduceLayers } from './reduce-to-kv-heads.js';
export { seedScores, accumulateScores } from './score-update.js';
export type { MethodOptions } from './registry.js';
export { METHODS, getMethod, methodNames } from './registry.js';
export { adjacentCosines, mergingSets, thresholdCuts } from './methods/kvmerger/merging-sets.js';
export { reservationOrder } from './methods/kvmerger/reserved-tokens.js';
export type { MergeOptions, SigmaMode } from './methods/kvmerger/gaussian-merge.js';
export { gaussianMerge, kernelWeights } from './methods/kvmerger/gaussian-merge.js';
export { pivotOf } from './methods/kvmerger/pivot.js';
export type { KVMergerOptions } from './methods/kvmerger/options.js';
export type { KVMergerDetails } from './methods/kvmerger/index.js';
export { kvmergerMethod, kvmergerPropMethod, compressKVMerger, faithfulShares } from './methods/kvmerger/index.js';
export type { H2OOptions } from './methods/h2o.js';
export { h2oMethod, h2oKeep } from './methods/h2o.js';
export type { CaMOptions } from './methods/cam.js';
export { camMethod, camGate, camMerge } from './methods/cam.js';
export type { StreamingOptions } from './methods/streaming.js';
export { streamingMethod } from './methods/streaming.js';
export type { SnapKVOptions } from './methods/snapkv.js';
export { snapkvMethod, pool1d } from './methods/snapkv.js';
export type { PyramidKVOptions } from './methods/pyramidkv.js';
export { pyramidkvMethod, pyramidBudgets } from './methods/pyramidkv.js';
export type { TOVAOptions } from './methods/tova.js';
export { tovaMethod } from './methods/tova.js';
export { knormMethod } from './methods/knorm.js';
export { randomMethod } from './methods/random.js';
export { fullMethod } from './methods/full.js';
