/**
 * KVMerger's reserved tokens (spec §2.1): never merged, always kept as their own slots — the first `sinkTokens`, the
 * most recent ⌈recentRatio · n⌉, and among the rest the ⌈attnRatio · n⌉ with the highest aggregated attention.
 */
import type { Budget } from '../../budget.js';
import type { KVMergerOptions } from './options.js';

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * The paper's reserved shares for a budget b: (0.35 → 0.08 recent, 0.02 attention) and (0.5 → 0.17, 0.12), linear
 * through these two points (extrapolated beyond them), clamped to [0, 1].
 */
export function faithfulShares(b: number): { recentRatio: number; attnRatio: number } {
  const t = (b - 0.35) / (0.5 - 0.35);
  return { recentRatio: clamp01(0.08 + t * (0.17 - 0.08)), attnRatio: clamp01(0.02 + t * (0.12 - 0.02)) };
}

/** `auto` shares → the paper's values for the requested budget (rounded to 6 decimals, as the report shows them). */
export function resolveShares(options: KVMergerOptions, budget: Budget): KVMergerOptions {
  const shares = faithfulShares(budget.requested);
  return {
    ...options,
    recentRatio: options.recentRatio === 'auto' ? round6(shares.recentRatio) : options.recentRatio,
    attnRatio: options.attnRatio === 'auto' ? round6(shares.attnRatio) : options.attnRatio,
  };
}

/** The reserved shares once resolved (compress runs after `resolveShares`). */
export function reservedShares(options: KVMergerOptions): { recentRatio: number; attnRatio: number } {
  const { recentRatio, attnRatio } = options;
  if (recentRatio === 'auto' || attnRatio === 'auto') throw new Error('kvmerger: reserved shares still auto; resolveOptions runs before compress');
  return { recentRatio, attnRatio };
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * The order in which slots are reserved (never merged): first the `sink` first slots, then the `recent` last slots
 * (newest first), then, among the rest, the `attn` slots with the highest attention (highest first; ties: the later
 * slot). Reserving "the first k of this list" gives nested reserved sets, which exact mode relies on when it has to
 * give reserved slots up (it gives them up from the end of the list).
 */
export function reservationOrder(n: number, attention: ArrayLike<number>, sink: number, recent: number, attn: number): Int32Array {
  const order: number[] = [];
  const taken = new Uint8Array(n);
  const take = (j: number): void => {
    if (!taken[j]) {
      taken[j] = 1;
      order.push(j);
    }
  };
  for (let j = 0; j < Math.min(sink, n); j++) take(j);
  for (let j = n - 1, c = 0; j >= 0 && c < recent; j--, c++) take(j);
  const rest: number[] = [];
  for (let j = 0; j < n; j++) if (!taken[j]) rest.push(j);
  rest.sort((a, b) => attention[b]! - attention[a]! || b - a);
  for (let c = 0; c < Math.min(attn, rest.length); c++) take(rest[c]!);
  return Int32Array.from(order);
}

/** Mask of the first `k` slots of a reservation order. */
export function reservedMask(n: number, order: Int32Array, k: number): Uint8Array {
  const m = new Uint8Array(n);
  for (let c = 0; c < Math.min(k, order.length); c++) m[order[c]!] = 1;
  return m;
}
