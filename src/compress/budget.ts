import { KvError } from '../util/errors.js';

/**
 * What the user asks to keep:
 * - `{ ratio }`: a share of the prompt's slots in (0, 1] (`--budget`);
 * - `{ tokens, per: 'layer' }`: `tokens` slots per KV head in every layer (`--budget-tokens`);
 * - `{ tokens, per: 'total' }`: `tokens` summed over layers, split as evenly as integers allow (earlier layers get the
 *   remainder).
 * Resolved, a budget is `perLayer[l]` slots per KV head: layer l may keep perLayer[l] · kvHeads slots. Most methods
 * give every head exactly that; KVMerger (exact, perHead) lets a layer's heads differ with the same layer total, and
 * PyramidKV moves slots between layers with the same cache total.
 */
export type BudgetSpec = { ratio: number } | { tokens: number; per?: 'layer' | 'total' };

/** A budget turned into slot counts for one cache. */
export interface Budget {
  spec: BudgetSpec;
  promptLength: number;
  layers: number;
  kvHeads: number;
  /** [layer] the most slots each KV head of the layer may keep. */
  perLayer: number[];
  /** Σ perLayer · kvHeads: the most slots the whole cache may keep. */
  totalSlots: number;
  /** totalSlots / (promptLength · layers · kvHeads): the share the slot counts allow (≤ requested, by flooring). */
  ratio: number;
  /** The share asked for: `spec.ratio`, or the token budget's share of the prompt (drives KVMerger's shares). */
  requested: number;
  /** True when every head may keep the whole prompt: compression is then a no-op. */
  full: boolean;
}

// Float products such as 0.29 · 100 = 28.999999999999996 must floor to 29, not 28.
const ROUNDING_SLACK = 1e-9;

/** ⌊x⌋ tolerant of float noise just below an integer. */
export function floorSlots(x: number): number {
  return Math.floor(x + ROUNDING_SLACK);
}

/** ⌈x⌉ tolerant of float noise just above an integer (0.17 · 100 = 17.000000000000004 → 17). */
export function ceilSlots(x: number): number {
  return Math.ceil(x - ROUNDING_SLACK);
}

/**
 * Check a budget against the prompt; throws KvError with the option's name, the problem and the fix.
 * `layers` is needed only for a total token budget (at least one token per layer, at most T per layer); without it
 * those two checks wait for `resolveBudget`.
 */
export function validateBudget(spec: BudgetSpec, promptLength: number, layers?: number): void {
  if (!Number.isInteger(promptLength) || promptLength < 1) throw new KvError(`cannot compress an empty prompt (${promptLength} tokens); give a prompt of at least 1 token`);
  if ('ratio' in spec) {
    const b = spec.ratio;
    if (!Number.isFinite(b) || b <= 0 || b > 1) throw new KvError(`--budget must be in (0, 1]; got ${b}`);
    if (floorSlots(b * promptLength) < 1) {
      throw new KvError(`--budget ${b} keeps no slot of the prompt's ${promptLength} tokens; give at least ${roundUp(1 / promptLength)}`);
    }
    return;
  }
  const n = spec.tokens;
  if (!Number.isInteger(n)) throw new KvError(`--budget-tokens must be an integer; got ${n}`);
  if (n < 1) throw new KvError(`--budget-tokens must be at least 1 (at most the prompt's length); got ${n}`);
  if ((spec.per ?? 'layer') === 'layer') {
    if (n > promptLength) throw new KvError(`--budget-tokens ${n} exceeds the prompt's ${promptLength} tokens`);
  } else if (layers !== undefined) {
    if (n > promptLength * layers) throw new KvError(`--budget-tokens ${n} (total) exceeds the prompt's ${promptLength} tokens × ${layers} layers = ${promptLength * layers}`);
    if (n < layers) throw new KvError(`--budget-tokens ${n} (total) leaves layers without a slot; give at least ${layers} (one per layer)`);
  }
}

function roundUp(x: number): number {
  const p = 10 ** 4;
  return Math.ceil(x * p) / p;
}

/** Validate, then turn the budget into per-layer slot counts for a cache of `layers` × `kvHeads` heads. */
export function resolveBudget(spec: BudgetSpec, promptLength: number, layers: number, kvHeads: number): Budget {
  validateBudget(spec, promptLength, layers);
  let perLayer: number[];
  if ('ratio' in spec) {
    perLayer = new Array<number>(layers).fill(Math.min(promptLength, floorSlots(spec.ratio * promptLength)));
  } else if ((spec.per ?? 'layer') === 'layer') {
    perLayer = new Array<number>(layers).fill(spec.tokens);
  } else {
    const base = Math.floor(spec.tokens / layers);
    const extra = spec.tokens - base * layers;
    perLayer = Array.from({ length: layers }, (_, l) => base + (l < extra ? 1 : 0));
  }
  const totalSlots = perLayer.reduce((a, b) => a + b, 0) * kvHeads;
  return {
    spec,
    promptLength,
    layers,
    kvHeads,
    perLayer,
    totalSlots,
    ratio: totalSlots / (promptLength * layers * kvHeads),
    requested: 'ratio' in spec ? spec.ratio : totalSlots / (promptLength * layers * kvHeads),
    full: perLayer.every((b) => b >= promptLength),
  };
}

/**
 * The CLI's budget flags → a BudgetSpec (undefined when neither is given: no compression).
 * `tokensPer` is `--budget-tokens-per layer|total` (default layer).
 */
export function parseBudgetFlags(budget?: string, budgetTokens?: string, tokensPer?: string): BudgetSpec | undefined {
  if (budget !== undefined && budgetTokens !== undefined) throw new KvError('give --budget or --budget-tokens, not both');
  // checked first: with --budget it would otherwise be silently ignored
  if (tokensPer !== undefined && budgetTokens === undefined) throw new KvError('--budget-tokens-per needs --budget-tokens (it does not apply to --budget)');
  if (budget !== undefined) {
    const b = Number(budget);
    if (budget.trim() === '' || Number.isNaN(b)) throw new KvError(`--budget must be a number in (0, 1]; got '${budget}'`);
    if (!(b > 0 && b <= 1)) throw new KvError(`--budget must be in (0, 1]; got ${b}`);
    return { ratio: b };
  }
  if (budgetTokens !== undefined) {
    const n = Number(budgetTokens);
    if (budgetTokens.trim() === '' || !Number.isInteger(n)) throw new KvError(`--budget-tokens must be an integer; got '${budgetTokens}'`);
    if (n < 1) throw new KvError(`--budget-tokens must be at least 1 (at most the prompt's length); got ${n}`);
    const per = tokensPer ?? 'layer';
    if (per !== 'layer' && per !== 'total') throw new KvError(`--budget-tokens-per expects layer or total; got '${per}'`);
    return { tokens: n, per };
  }
  return undefined;
}
