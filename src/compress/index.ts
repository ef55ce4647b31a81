/**
 * KV-cache compression: the methods, budgets and decode-time policies (spec: ../shared/spec/kv-compression.md;
 * explanations and every decision on open points: docs/methods.md).
 *
 * ## How the generation session uses this module
 *
 * ```ts
 * // 1. Before the prefill (fails fast on an unknown method, a bad option or a bad budget — KvError):
 * const prep = prepareCompression({
 *   method: 'kvmerger',                       // kvmerger methods lists them
 *   options: ['epsilon=0.8', 'granularity=headShared'],   // --method-option values, or { epsilon: 0.8 }
 *   budget: parseBudgetFlags(flags.budget, flags.budgetTokens, flags.budgetTokensPer),  // undefined → no compression
 *   promptLength: promptTokens.length,
 *   seed,                                      // CaM's gate, random
 *   reserveSlots: maxNewTokens,                // decode room left in every compacted head
 * });
 * // 2. Prefill with the statistics the method needs (accumulate them over chunks; windowStart = T − request.window):
 * const { stats } = await backend.forward(tokens, cache, { logits: 'last', stats: prep.statsRequest, windowStart });
 * // 3. Compress once (also seeds HeadCache.score with the reduced column sums); the report is --json's "cache":
 * const dumpAttention = prep.aggregatedAttention(cache, stats);   // for --dump-cache, with cacheDump(before/after)
 * const report: CompressionReport = prep.compress(cache, stats);
 * // 4. Decode; with a policy, pass its stats request and call it after every step:
 * const policy = prep.decodePolicy(cache);    // undefined unless e.g. h2o when=decode, tova when=decode
 * const step = await backend.forward(Int32Array.of(tok), cache, { logits: 'last', stats: policy?.stats });
 * policy?.afterDecodeStep(cache, step.stats); // adds the row to HeadCache.score and evicts/merges to the budget
 * ```
 *
 * A method sees only the cache, the statistics it declared (reduced from query heads to KV heads with its
 * `gqaReduce`) and the budget; it compacts heads physically (HeadCache.retain / removeAt) and never renumbers
 * positions. The session never needs to know a method's internals.
 */
export type { BudgetSpec, Budget } from './budget.js';
export { resolveBudget, validateBudget, parseBudgetFlags, floorSlots, ceilSlots } from './budget.js';
export type { CompressionMethod, MethodInput, PolicyInput, DecodePolicy, ReducedStats } from './compression-method.js';
export { NO_STATS } from './compression-method.js';
export type { OptionSpec, OptionValue, ResolvedOptions } from './method-options.js';
export { parseMethodOptions, parseOptionValue, describeOptionType } from './method-options.js';
export type { CompressionPlan, CompressionReport, PreparedCompression } from './compress-cache.js';
export { prepareCompression, compressCache } from './compress-cache.js';
export type { GqaReduce } from './reduce-to-kv-heads.js';
export { reduceToKvHeads, reduceLayers } from './reduce-to-kv-heads.js';
export { seedScores, accumulateScores } from './score-update.js';
export { METHODS, getMethod, methodNames } from './registry.js';
export { adjacentCosines, mergingSets, reservationOrder, thresholdCuts } from './merging-sets.js';
export type { MergeOptions, SigmaMode } from './gaussian-merge.js';
export { gaussianMerge, kernelWeights, pivotOf } from './gaussian-merge.js';
export { kvmergerMethod, compressKVMerger, faithfulShares } from './methods/kvmerger.js';
export { h2oMethod, h2oKeep } from './methods/h2o.js';
export { camMethod, camGate, camMerge } from './methods/cam.js';
export { streamingMethod } from './methods/streaming.js';
export { snapkvMethod, pool1d } from './methods/snapkv.js';
export { pyramidkvMethod, pyramidBudgets } from './methods/pyramidkv.js';
export { tovaMethod } from './methods/tova.js';
export { knormMethod } from './methods/knorm.js';
export { randomMethod } from './methods/random.js';
export { fullMethod } from './methods/full.js';
