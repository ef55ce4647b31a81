/**
 * KVMerger during decoding (`when=decode`): after every decode step, while a layer holds more than its budget
 * (b slots per KV head, counted over the layer as exact mode does, so heads keep their own compression ratios; with
 * thresholdScope=global over the whole cache, so layers keep theirs),
 * merge the most similar adjacent pair of the newest slots of the head that has the most similar one — Algorithm 1
 * re-run on the tail, one merge at a time.
 *
 * Per head with n slots: the reserved slots are those of the one-shot rule, counted on the n
 * slots held (the first `sinkTokens`, the last ⌈recentRatio · n⌉, the ⌈attnRatio · n⌉ highest accumulated scores
 * among the rest); the candidates are the adjacent pairs of unreserved slots among the newest `decodeWindow` slots
 * before the recent ones. The pair with the highest key cosine (ties: the later pair) merges into its pivot
 * (highest accumulated score, ties the later; or the later one with pivot=centre) with the Gaussian-kernel rule;
 * the other slot is removed (HeadCache.removeAt, no reallocation). When the window has no candidate, every
 * unreserved pair is one; when there is none at all, every pair is (so the budget holds at every step).
 * `granularity=headShared`: one pair per layer, from the cosines and scores averaged over its heads.
 *
 * valueScale=setSize is applied as `mass` (the method's repeatedRoundOptions): a merged slot merging again must
 * not multiply its value by |S| once more. sets=random is not used here (the pair is always the most similar).
 *
 * Cost per merge: the cosines of the window's pairs, O(decodeWindow · d) per head of the layer, and the attention
 * threshold, O(n log n) (a native sort of the scores); only the two merged slots are read and written (no f16 working
 * copy of the head). In steady state about (1 − b) merges per step per layer in ppl-stream, one when the budget is
 * fixed (measured: docs/methods.md).
 */
import { upperBound } from './upper-bound.js';
import { HeadCache } from '../../../cache/head-cache.js';
import type { DecodePolicy, PolicyInput } from '../../compression-method.js';
import { LAST_ROW } from '../../eviction-policy.js';
import { ceilSlots } from '../../budget.js';
import { accumulateScores } from '../../score-update.js';
import { gaussianMerge } from './gaussian-merge.js';
import type { KVMergerOptions } from './options.js';
import { centrePivot } from './pivot.js';
import { faithfulShares } from './reserved-tokens.js';

export function kvmergerDecodePolicy({ options, layerBudgets }: PolicyInput<KVMergerOptions>): DecodePolicy | undefined {
  if (options.when !== 'decode') return undefined;
  const opts: KVMergerOptions = options.valueScale === 'setSize' ? { ...options, valueScale: 'mass' } : options;
  // 'auto' shares (a policy made before compress resolved them): the paper's for the budget's share of the tokens
  // seen at the first step, b / (T + 1) ≈ the requested budget
  let recentRatio = typeof options.recentRatio === 'number' ? options.recentRatio : undefined;
  let attnRatio = typeof options.attnRatio === 'number' ? options.attnRatio : undefined;
  let merges = 0;
  return {
    stats: LAST_ROW,
    afterDecodeStep(cache, stats) {
      if (!stats) throw new Error('kvmerger decode policy: the decode step returned no statistics; pass policy.stats to the forward pass');
      accumulateScores(cache, stats, options.gqaReduce);
      if (recentRatio === undefined || attnRatio === undefined) {
        const shares = faithfulShares(Math.min(1, layerBudgets[0]! / Math.max(1, cache.nextPosition)));
        recentRatio ??= shares.recentRatio;
        attnRatio ??= shares.attnRatio;
      }
      const rr = recentRatio;
      const ar = attnRatio;
      // thresholdScope=global (exact mode): the whole cache is one group, as in one-shot compression; else each layer
      const global = options.thresholdScope === 'global' && options.budgetMode === 'exact';
      const groups = global ? [cache.layers.map((_, l) => l)] : cache.layers.map((_, l) => [l]);
      for (const group of groups) {
        let cap = 0;
        const units: HeadCache[][] = [];
        for (const l of group) {
          const layer = cache.layers[l]!;
          cap += layerBudgets[l]! * layer.kvHeads; // slots, counted as exact mode counts them
          if (options.granularity === 'headShared' && layer.heads.every((h) => h.length === layer.heads[0]!.length)) units.push(layer.heads);
          else for (const h of layer.heads) units.push([h]);
        }
        let held = group.reduce((s, l) => s + cache.layers[l]!.slots(), 0);
        // each unit's best pair, searched once and again only after that unit merged (the others are unchanged)
        const best = new Map<HeadCache[], ReturnType<typeof bestPair>>();
        while (held > cap) {
          // the unit (head, or a layer's heads) whose best pair is the most similar merges (ties: the earlier unit)
          let pick: { heads: HeadCache[]; i: number; tier: number; cos: number } | undefined;
          for (const heads of units) {
            if (heads[0]!.length < 2) continue;
            let r = best.get(heads);
            if (!r) best.set(heads, (r = bestPair(heads, options.sinkTokens, rr, ar, options.decodeWindow)));
            if (r.i >= 0 && (!pick || r.tier < pick.tier || (r.tier === pick.tier && r.cos > pick.cos))) pick = { heads, ...r };
          }
          if (!pick) break;
          best.delete(pick.heads);
          held -= pick.heads.length;
          const { heads, i } = pick;
          const p = options.pivot === 'centre' ? centrePivot(i, i + 1) : meanScore(heads, i + 1) >= meanScore(heads, i) ? i + 1 : i;
          for (const head of heads) {
            if (options.proportional === 'true') head.proportional = true;
            mergePair(head, i, p, opts);
          }
          merges++;
        }
      }
    },
    get evicted() {
      return merges;
    },
  };
}

const meanScore = (heads: HeadCache[], j: number): number => heads.reduce((s, h) => s + h.score[j]!, 0) / heads.length;

/**
 * Merge slots i and i+1 into the pivot p with the one-shot rule (gaussianMerge on a two-slot copy), write the result
 * into p and remove the other: only these two slots are read and written (no f16 working copy of the whole head).
 */
function mergePair(head: HeadCache, i: number, p: number, opts: KVMergerOptions): void {
  const d = head.headDim;
  const pair = new HeadCache(d, 2, 'f32');
  const k = new Float32Array(d);
  const v = new Float32Array(d);
  for (const j of [i, i + 1]) {
    pair.append(head.readKey(j, k), head.readValue(j, v), head.positions[j]!);
    pair.mass[j - i] = head.mass[j]!;
    pair.score[j - i] = head.score[j]!;
  }
  gaussianMerge(pair, 0, 1, p - i, opts);
  head.writeSlot(p, pair.key(p - i), pair.value(p - i));
  head.mass[p] = pair.mass[p - i]!;
  head.score[p] = pair.score[p - i]!;
  head.removeAt(p === i ? i + 1 : i);
}

/**
 * The pair (i, i+1) to merge in these heads (one head, or a layer's heads sharing a layout), its cosine, and the
 * tier it came from: 0 the window, 1 any unreserved pair, 2 any pair.
 */
export function bestPair(heads: HeadCache[], sink: number, recentRatio: number, attnRatio: number, window: number): { i: number; cos: number; tier: number } {
  const n = heads[0]!.length;
  const recent = Math.min(n, ceilSlots(recentRatio * n));
  const reserved = new Uint8Array(n);
  for (let j = 0; j < Math.min(sink, n); j++) reserved[j] = 1;
  for (let j = n - recent; j < n; j++) reserved[j] = 1;
  const attn = ceilSlots(attnRatio * n);
  if (attn > 0) {
    // the attn highest mean scores among the unreserved slots (ties: the later ones), via a threshold
    const sc = new Float64Array(n);
    for (const h of heads) for (let j = 0; j < n; j++) sc[j] = sc[j]! + h.score[j]! / heads.length;
    let f = 0;
    const all = new Float64Array(n);
    for (let j = 0; j < n; j++) if (!reserved[j]) all[f++] = sc[j]!;
    const free = all.subarray(0, f).sort();
    if (free.length > 0) {
      const take = Math.min(attn, free.length);
      const thr = free[free.length - take]!;
      let ties = take - (free.length - upperBound(free, thr));
      for (let j = 0; j < n; j++) if (!reserved[j] && sc[j]! > thr) reserved[j] = 1;
      for (let j = n - 1; j >= 0 && ties > 0; j--) {
        if (!reserved[j] && sc[j] === thr) {
          reserved[j] = 1;
          ties--;
        }
      }
    }
  }
  const hi = n - recent; // slots [lo, hi) hold the window
  const best = (lo: number, top: number, honour: boolean): { i: number; cos: number } => {
    let i = -1;
    let max = -Infinity;
    for (let j = lo; j + 1 < top; j++) {
      if (honour && (reserved[j] || reserved[j + 1])) continue;
      const c = cosine(heads, j);
      if (c >= max) {
        max = c;
        i = j;
      }
    }
    return { i, cos: max };
  };
  const tiers: [number, number, boolean][] = [[Math.max(0, hi - window), hi, true], [0, n, true], [0, n, false]];
  for (let t = 0; t < tiers.length; t++) {
    const r = best(...tiers[t]!);
    if (r.i >= 0) return { ...r, tier: t };
  }
  return { i: -1, cos: -Infinity, tier: 3 };
}


/** Cosine of keys i and i+1, averaged over the heads (read slot by slot: no working copy of the head). */
function cosine(heads: HeadCache[], i: number): number {
  let s = 0;
  for (const h of heads) {
    const d = h.headDim;
    const ka = h.readKey(i, new Float32Array(d));
    const kb = h.readKey(i + 1, new Float32Array(d));
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let c = 0; c < d; c++) {
      const a = ka[c]!;
      const b = kb[c]!;
      dot += a * b;
      na += a * a;
      nb += b * b;
    }
    const den = Math.sqrt(na * nb);
    s += den > 0 ? dot / den : 0;
  }
  return s / heads.length;
}
