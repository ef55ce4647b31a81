import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats, StatsRequest } from '../cache/attention-stats.js';
import type { Rng } from '../util/rng.js';
import type { Budget } from './budget.js';
import type { OptionSchema, OptionSpec, ResolvedOptions } from './method-options.js';

/**
 * Statistics reduced from query heads to KV heads (with the method's `gqaReduce`), per layer and KV head, in slot
 * order. Only what the method asked for is present.
 */
export interface ReducedStats {
  /** [layer][kvHead] column sums over every prompt query (aggregated attention a_j). */
  columnSums?: Float32Array[][];
  /** [layer][kvHead] column sums over the last `window` prompt queries. */
  windowSums?: Float32Array[][];
  /** [layer][kvHead] the last query's attention row. */
  lastRow?: Float32Array[][];
}

/** What a method's `compress` receives. It mutates `cache` in place (through HeadCache.retain / buffers it owns). */
export interface MethodInput<O extends ResolvedOptions = ResolvedOptions> {
  cache: KVCache;
  options: O;
  budget: Budget;
  /** [layer] the most slots each KV head of the layer may keep (after the method's own `layerBudgets`). */
  layerBudgets: number[];
  stats: ReducedStats;
  promptLength: number;
  /** Seeded generator (CaM's gate, random). */
  rng: Rng;
  /** Extra capacity to leave in every compacted head (decode room). */
  reserveSlots: number;
}

/** What a method's `decodePolicy` receives. */
export interface PolicyInput<O extends ResolvedOptions = ResolvedOptions> {
  options: O;
  /** [layer] slots per KV head; filled once the cache's shape is known (read it at every step, not at creation). */
  layerBudgets: number[];
  rng: Rng;
}

/**
 * A decode-time policy: keeps the cache at its budget while tokens are generated. The session calls
 * `afterDecodeStep` once per decoded token, after the forward pass has appended the token and returned the
 * statistics `stats` asked for (per query head). Build one with `evictionPolicy` (eviction-policy.ts).
 */
export interface DecodePolicy {
  /** What every decode step's forward pass must return (e.g. `lastRow: true`). */
  readonly stats: StatsRequest;
  /** Update accumulated scores (if the policy uses them) and evict/merge until every head is within its budget. */
  afterDecodeStep(cache: KVCache, stats: AttentionStats | undefined): void;
  /** Slots removed so far (over every head), for reporting. */
  readonly evicted: number;
}

/**
 * A compression method. Methods see only a cache, the statistics they declared and a budget; they never import the
 * model. `O` is the type of its parsed options (from its option declaration). Score-based methods write `compress`
 * with `compressByScore` (keep-by-score.ts), decode-time ones `decodePolicy` with `evictionPolicy`. See
 * docs/methods.md ("How to add a new method").
 *
 * What differs between methods beyond their selection is declared here as a capability, never tested by name in
 * the shared code.
 */
export interface CompressionMethod<O extends ResolvedOptions = ResolvedOptions> {
  readonly name: string;
  /** One line, for `kvmerger methods`. */
  readonly description: string;
  /** The options as `kvmerger methods` lists them (`schema.specs`). */
  readonly options: readonly OptionSpec[];
  /** The options' declaration: listing and typed parser. */
  readonly schema: OptionSchema<O>;
  /** Fill options whose default is 'auto' (e.g. KVMerger's reserved shares from the budget's share). */
  resolveOptions?(options: O, budget: Budget): O;
  /** The statistics the prefill must compute for these options. */
  statsRequest(options: O): StatsRequest;
  /** Per-layer budgets other than the uniform one (PyramidKV); must not exceed Σ uniform. */
  layerBudgets?(uniform: readonly number[], options: O, promptLength: number): number[];
  /** Compress after prefill. May return method-specific details for the report (e.g. thresholds). */
  compress(input: MethodInput<O>): Record<string, unknown> | void;
  /** A decode-time policy when these options ask for one (undefined: the method compresses once). */
  decodePolicy?(input: PolicyInput<O>): DecodePolicy | undefined;
  /**
   * Capability, compression during the chunked prefill: why these options cannot bound the cache there (a reason a
   * user can act on), or undefined when they can. Window statistics are refused by the shared code for every method.
   */
  prefillRefusal?(options: O): string | undefined;
  /**
   * Capability, compression during the chunked prefill: the options every round runs with, when repeated rounds on a
   * cache that already holds merged slots need different ones (KVMerger counts tokens, not slots, in its value
   * scale). The report shows these options. Default: unchanged.
   */
  repeatedRoundOptions?(options: O): O;
}

/** Declare a method: fills `options` from the schema, so a method states its options once. */
export function defineMethod<O extends ResolvedOptions>(method: Omit<CompressionMethod<O>, 'options'>): CompressionMethod<O> {
  return { ...method, options: method.schema.specs };
}

export const NO_STATS: StatsRequest = { columnSums: false, window: 0, lastRow: false };
