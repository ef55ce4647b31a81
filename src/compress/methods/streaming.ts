import { NO_STATS, defineMethod } from '../compression-method.js';
import { evictionPolicy } from '../eviction-policy.js';
import { compressByScore, keepByScore } from '../keep-by-score.js';
import { defineOptions, option, type OptionsOf } from '../method-options.js';
import { whenOption } from './h2o.js';

const OPTIONS = {
  sink: option.integer({ min: 0, default: 4, description: 'number of first tokens (attention sinks) always kept' }),
  when: whenOption('compress once after prefill, or also keep the budget at every decode step'),
} as const;
export type StreamingOptions = OptionsOf<typeof OPTIONS>;

/** Slots StreamingLLM keeps in a head of n slots with budget b: the first min(sink, b) and the most recent rest. */
export function streamingKeep(n: number, budget: number, sink: number): number[] {
  return keepByScore([], n, budget, sink, budget);
}

/** StreamingLLM: keep the first `sink` tokens and the most recent ones; drop the middle. */
export const streamingMethod = defineMethod<StreamingOptions>({
  name: 'streaming',
  description: 'StreamingLLM: keeps the first `sink` tokens and the most recent tokens, drops the middle',
  schema: defineOptions(OPTIONS),
  statsRequest: () => NO_STATS,
  compress: (input) => compressByScore(input, { sinks: () => input.options.sink, recent: (b) => b }),
  decodePolicy({ options, layerBudgets }) {
    if (options.when !== 'decode') return undefined;
    // the oldest slot after the sinks
    return evictionPolicy(layerBudgets, { stats: NO_STATS, victim: (_, b) => Math.min(options.sink, b) });
  },
});
