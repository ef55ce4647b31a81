import type { HeadCache } from '../../cache/head-cache.js';
import type { Rng } from '../../util/rng.js';
import { defineMethod } from '../compression-method.js';
import { evictionPolicy, LAST_ROW } from '../eviction-policy.js';
import { GQA_REDUCE, SCORE_SOURCE, defineOptions, option, type OptionsOf } from '../method-options.js';
import { reduceToKvHeads } from '../reduce-to-kv-heads.js';
import { accumulateScores } from '../score-update.js';
import { pickScores, scoreStatsRequest } from '../score-source.js';
import { range } from '../top-indices.js';
import { h2oKeep, h2oVictim, recentShareOption, recentSlots, whenOption } from './h2o.js';

const OPTIONS = {
  mergeWindow: option.integer({ min: 1, default: 32, description: 'M: an evicted value is spread over the M kept slots that follow it (official code: 32; streaming variant: 16)' }),
  gateAttention: option.enum(['accumulated', 'current'], { default: 'accumulated', description: 'attention behind the merge gate: accumulated scores, or the current (last) query\'s row as the official code does' }),
  eviction: option.enum(['window', 'h2o'], { default: 'window', description: 'which tokens are evicted: those leaving the recent window (start + recent kept), or H2O\'s choice (heavy + recent kept)' }),
  recentShare: recentShareOption('share of the budget for the most recent tokens; the rest goes to the start tokens (window) or heavy hitters (h2o); 0.5 is 1:1'),
  when: whenOption('compress once after prefill, or also evict and merge at every decode step'),
  proportional: option.enum(['false', 'true'], { default: 'false', description: 'proportional attention: a merge adds m_e/M to each target\'s mass and makes its value the mass-weighted mean (not v + v_e/M); attention adds log(mass) to each slot\'s logit' }),
  ...SCORE_SOURCE,
  ...GQA_REDUCE,
} as const;
export const CAM_OPTIONS = defineOptions(OPTIONS);
export type CaMOptions = OptionsOf<typeof OPTIONS>;

/**
 * CaM's merge probability for an evicted token with attention `aEvicted` over target slots with attention `aTargets`:
 * clamp(aEvicted / mean(aTargets), 0, 1). When the mean is 0 the ratio is undefined: p = 1 if aEvicted > 0, else 0.
 */
export function camGate(aEvicted: number, aTargets: readonly number[]): number {
  let s = 0;
  for (const a of aTargets) s += a;
  return gateFromSum(aEvicted, s, aTargets.length);
}

/** camGate from the targets' attention sum and count. */
function gateFromSum(aEvicted: number, sum: number, count: number): number {
  if (count === 0) return 0;
  const mean = sum / count;
  if (!(mean > 0)) return aEvicted > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, aEvicted / mean));
}

/**
 * Draw CaM's gate for evicted slot `e` and, if it fires, add v_e / M to the value of every target slot. One draw
 * per evicted token whatever p is (so a run's random stream does not depend on the scores). Returns whether it merged.
 */
export function camMerge(head: HeadCache, e: number, targets: readonly number[], p: number, mergeWindow: number, rng: Rng, proportional = false): boolean {
  const fire = rng.next() < p;
  if (!fire || targets.length === 0) return false;
  const d = head.headDim;
  const v = head.values;
  if (proportional) {
    // each target takes m_e / M of the evicted slot's tokens: mass-weighted mean of the values, masses added
    const share = head.mass[e]! / mergeWindow;
    for (const t of targets) {
      const m = head.mass[t]!;
      for (let c = 0; c < d; c++) v[t * d + c] = (m * v[t * d + c]! + share * v[e * d + c]!) / (m + share);
      head.mass[t] = m + share;
    }
    return true;
  }
  for (const t of targets) {
    for (let c = 0; c < d; c++) v[t * d + c] = v[t * d + c]! + v[e * d + c]! / mergeWindow;
  }
  return true;
}

function gateOf(a: ArrayLike<number>, e: number, targets: readonly number[]): number {
  return camGate(a[e]!, targets.map((t) => a[t]!));
}

/**
 * One-shot CaM on one head after prefill. Window eviction replays the streaming process: tokens start..n−recent−1
 * leave the window in positional order, each gated into the min(M, recent) tokens right after it (which may be
 * evicted later in turn, carrying what they received). H2O eviction: the tokens H2O drops, in positional order, each
 * gated into the next min(M, ·) slots H2O keeps after it. Returns the number of merges that fired.
 */
export function camCompressHead(
  head: HeadCache,
  b: number,
  opts: { recent: number; mergeWindow: number; eviction: CaMOptions['eviction']; gate: ArrayLike<number>; selectScores: ArrayLike<number>; proportional?: boolean },
  rng: Rng,
  reserveSlots: number,
): number {
  const n = head.length;
  if (n <= b) return 0;
  const recent = Math.min(opts.recent, b);
  const M = opts.mergeWindow;
  let merged = 0;
  let keep: number[];
  if (opts.eviction === 'window') {
    const start = b - recent;
    merged = camWindowSweep(head, start, n - recent, Math.min(M, recent), M, opts.gate, rng, opts.proportional ?? false);
    keep = [...range(0, start), ...range(n - recent, n)];
  } else {
    keep = h2oKeep(opts.selectScores, n, b, recent);
    const kept = new Set(keep);
    let next = 0; // index into keep of the first kept slot after e
    for (let e = 0; e < n; e++) {
      while (next < keep.length && keep[next]! <= e) next++;
      if (kept.has(e)) continue;
      const targets = keep.slice(next, next + M);
      if (camMerge(head, e, targets, gateOf(opts.gate, e, targets), M, rng, opts.proportional ?? false)) merged++;
    }
  }
  head.retain(keep, reserveSlots);
  return merged;
}

/**
 * Window eviction in one pass, O(n · headDim) instead of O(n · M · headDim): slots [start, end) leave the window in
 * order, and slot e merges (if its gate fires) into slots e+1 .. e+W. Target t therefore receives the fired values
 * of e in [t − W, t − 1], each as it was when merged (already carrying what e received): a sliding sum of those
 * values, updated as t advances. The same draws, in the same order, as merging one evicted slot at a time.
 */
function camWindowSweep(head: HeadCache, start: number, end: number, W: number, M: number, gate: ArrayLike<number>, rng: Rng, proportional: boolean): number {
  const n = head.length;
  const d = head.headDim;
  const v = head.values;
  const mass = head.mass;
  // fired values of the last W evicted slots (proportional: times their masses, with the masses' sum), / M on use
  const sum = new Float64Array(d);
  let sumMass = 0;
  const fired = new Uint8Array(n);
  let merged = 0;
  for (let t = start; t < n; t++) {
    const out = t - W - 1; // leaves the window of sources that reach t
    if (out >= start && fired[out]) {
      const w = proportional ? mass[out]! : 1;
      for (let c = 0; c < d; c++) sum[c]! -= w * v[out * d + c]!;
      sumMass -= w;
    }
    if (t > start && W > 0) {
      if (!proportional) for (let c = 0; c < d; c++) v[t * d + c] = v[t * d + c]! + sum[c]! / M;
      else if (sumMass > 0) {
        const m = mass[t]!;
        const add = sumMass / M;
        for (let c = 0; c < d; c++) v[t * d + c] = (m * v[t * d + c]! + sum[c]! / M) / (m + add);
        mass[t] = m + add;
      }
    }
    if (t >= end) continue;
    const hi = Math.min(n, t + 1 + W);
    let s = 0;
    for (let j = t + 1; j < hi; j++) s += gate[j]!;
    const fire = rng.next() < gateFromSum(gate[t]!, s, hi - t - 1); // one draw per evicted slot, as camMerge
    if (fire && hi > t + 1) {
      fired[t] = 1;
      merged++;
      const w = proportional ? mass[t]! : 1;
      for (let c = 0; c < d; c++) sum[c]! += w * v[t * d + c]!;
      sumMass += w;
    }
  }
  return merged;
}

/** CaM (Cache Merging): values of evicted tokens merge, gated by attention, into the values of the kept tokens after them. */
export const camMethod = defineMethod<CaMOptions>({
  name: 'cam',
  description: 'CaM: evicts like StreamingLLM (or H2O) but merges each evicted value into the next M kept values, gated by a seeded Bernoulli draw',
  schema: CAM_OPTIONS,
  statsRequest: (o) => scoreStatsRequest(o, { lastRow: o.gateAttention === 'current' }),
  compress({ cache, options, layerBudgets, stats, rng, reserveSlots }) {
    const scores = pickScores(stats, options, 'cam');
    const current = options.gateAttention === 'current';
    if (current && !stats.lastRow) throw new Error('cam: the prefill returned no lastRow; pass prepared.statsRequest to the forward pass');
    let merges = 0;
    const proportional = options.proportional === 'true';
    cache.layers.forEach((layer, l) => {
      const b = layerBudgets[l]!;
      layer.heads.forEach((head, h) => {
        if (proportional) head.proportional = true;
        const opts = { recent: recentSlots(b, options.recentShare), mergeWindow: options.mergeWindow, eviction: options.eviction, gate: current ? stats.lastRow![l]![h]! : scores[l]![h]!, selectScores: scores[l]![h]!, proportional };
        merges += camCompressHead(head, b, opts, rng, reserveSlots);
      });
    });
    return { merges };
  },
  decodePolicy({ options, layerBudgets, rng }) {
    if (options.when !== 'decode') return undefined;
    const M = options.mergeWindow;
    // gateAttention=current: the step's rows per layer and KV head, kept aligned with the slots as they go
    let rows: number[][][] | undefined;
    return evictionPolicy(layerBudgets, {
      stats: LAST_ROW,
      begin(cache, stats) {
        if (!stats?.lastRow) throw new Error('cam decode policy: the decode step returned no lastRow; pass policy.stats to the forward pass');
        accumulateScores(cache, stats, options.gqaReduce);
        if (options.gateAttention === 'current') rows = cache.layers.map((layer, l) => reduceToKvHeads(stats.lastRow![l]!, layer.kvHeads, options.gqaReduce).map((r) => Array.from(r)));
      },
      victim: (head, b) => (options.eviction === 'h2o' ? h2oVictim(head, b, recentSlots(b, options.recentShare)) : b - recentSlots(b, options.recentShare)),
      evicting(head, e, l, h) {
        const targets = range(e + 1, Math.min(head.length, e + 1 + M));
        if (options.proportional === 'true') head.proportional = true;
        camMerge(head, e, targets, gateOf(rows ? rows[l]![h]! : head.score, e, targets), M, rng, options.proportional === 'true');
      },
      removed: (e, l, h) => void rows?.[l]![h]!.splice(e, 1),
    });
  },
});
