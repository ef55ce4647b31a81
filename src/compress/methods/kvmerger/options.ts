import { GQA_REDUCE, SCORE_SOURCE, defineOptions, option, type OptionsOf } from '../../method-options.js';

const share = (name: 'recentRatio' | 'attnRatio', what: string) =>
  option.enumOrNumber(['auto'], {
    min: 0,
    max: 1,
    default: 'auto',
    description: `share of the prompt reserved for ${what} (never merged); auto: the paper's value for the budget (0.5 → ${name === 'recentRatio' ? '0.17' : '0.12'}, 0.35 → ${name === 'recentRatio' ? '0.08' : '0.02'}, interpolated)`,
  });

/** KVMerger's options (spec §2; every decision on the open points: docs/methods.md). */
const OPTIONS = {
  granularity: option.enum(['perHead', 'headShared'], { default: 'perHead', description: 'perHead: each KV head its own merging sets; headShared: one layout per layer from cosines and attention averaged over its KV heads' }),
  budgetMode: option.enum(['exact', 'faithful'], { default: 'exact', description: 'exact: search the threshold so the kept slots hit the budget exactly; faithful: fixed epsilon and shares, the kept size follows (may exceed the budget)' }),
  thresholdScope: option.enum(['layer', 'global'], { default: 'layer', description: 'exact mode: one threshold per layer (each layer hits its budget) or one for the whole cache (the total hits the budget)' }),
  epsilon: option.number({ min: -1, max: 1, default: 0.75, description: 'faithful mode: adjacent keys merge when their cosine similarity is > epsilon' }),
  sigma: option.enumOrNumber(['meanDistance', 'rmsDistance'], { min: 0, minExclusive: true, default: 'meanDistance', description: 'Gaussian kernel width: mean distance to the pivot / √2, root-mean-square distance, or a fixed number (paper\'s best: 5)' }),
  valueScale: option.enum(['setSize', 'mass', 'none'], { default: 'setSize', description: 'merged value = |S| · Σ w_i v_i (setSize, as the paper states), Σ w_i v_i (none), or (Σ m_i) · Σ w_i v_i / m_i (mass: tokens, not slots; = setSize in one-shot compression, used during the prefill)' }),
  weighting: option.enum(['gaussian', 'mean'], { default: 'gaussian', description: 'Gaussian-kernel weights around the pivot, or a plain average (the paper\'s ablation)' }),
  recentRatio: share('recentRatio', 'the most recent tokens'),
  attnRatio: share('attnRatio', 'the highest-attention tokens'),
  sinkTokens: option.integer({ min: 0, default: 0, description: 'number of first tokens reserved (never merged)' }),
  proportional: option.enum(['false', 'true'], { default: 'false', description: 'proportional attention (ToMe): attention adds log(mass) to each slot\'s logit, so a merged slot weighs as the tokens it stands for; kernel weights are multiplied by the members\' masses. Pair with valueScale=none' }),
  sets: option.enum(['similarity', 'random'], { default: 'similarity', description: 'merging sets from adjacent key similarity (the paper), or the same set sizes placed at random within each stretch of unreserved slots (ablation)' }),
  pivot: option.enum(['attention', 'centre'], { default: 'attention', description: 'pivot of a set: its highest-attention member (the paper), or its centre member (ablation)' }),
  when: option.enum(['prefill', 'decode'], { default: 'prefill', description: 'compress once after prefill, or also merge at every decode step to stay at the budget (the most similar adjacent pair in the newest decodeWindow slots before the recent reserve)' }),
  decodeWindow: option.integer({ min: 1, default: 64, description: 'when=decode: the newest slots (before the reserved recent ones) in which a decode step looks for the pair to merge' }),
  ...SCORE_SOURCE,
  ...GQA_REDUCE,
} as const;
export const KVMERGER_OPTIONS = defineOptions(OPTIONS);
export type KVMergerOptions = OptionsOf<typeof OPTIONS>;

/**
 * kvmerger-prop (docs/ablation.md): the configuration the ablation found best on its tuning split — proportional
 * attention, no |S| value scaling, one threshold for the whole cache. Same options, other defaults.
 */
const PROP_OPTIONS = {
  ...OPTIONS,
  thresholdScope: option.enum(['layer', 'global'], { default: 'global', description: OPTIONS.thresholdScope.spec.description }),
  valueScale: option.enum(['setSize', 'mass', 'none'], { default: 'none', description: OPTIONS.valueScale.spec.description }),
  proportional: option.enum(['false', 'true'], { default: 'true', description: OPTIONS.proportional.spec.description }),
} as const;
export const KVMERGER_PROP_OPTIONS = defineOptions(PROP_OPTIONS);
