import type { HeadCache } from '../cache/head-cache.js';
import type { LayerCache } from '../cache/layer-cache.js';
import type { MethodInput } from './compression-method.js';
import type { ResolvedOptions } from './method-options.js';
import { bottomIndices, range, topIndices } from './top-indices.js';

/**
 * The selection every eviction method shares (kvpress's ScorerPress: a method says how to score, this code does the
 * rest). For each layer, each KV head above its layer's budget `b` keeps
 *   the first `sinks(b)` slots, the last `recent(b)` slots, and the best-scoring slots between them up to `b`,
 * and is compacted physically (HeadCache.retain, leaving the decode reserve). Heads within budget are not touched.
 */
export interface ScoreRule {
  /** Slots always kept at the start of a head with budget `b` (attention sinks); default none. At most `b`. */
  sinks?(b: number): number;
  /** Slots always kept at the end (the recent window) of a head of `n` slots with budget `b`; default none. */
  recent?(b: number, n: number): number;
  /**
   * One layer's scores, [kvHead] → one per slot (only the slots between the sinks and the recent window are read).
   * Called at most once per layer, before any of its heads is compacted, and only when one of them has a choice to
   * make. A rule without scores keeps sinks and recent slots only (they must fill the budget).
   */
  scores?(layer: LayerCache, l: number): readonly ArrayLike<number>[];
  /** Which scores are kept: the highest (default; ties: the later slot) or the lowest (ties: the later slot). */
  keep?: 'highest' | 'lowest';
}

/**
 * One head's kept slots, in increasing order: [0, s) ∪ the `b − s − r` best of [s, n − r) ∪ [n − r, n) with
 * s = min(sinks, b) and r = min(recent, b − s). A head within budget keeps everything.
 */
export function keepByScore(score: ArrayLike<number>, n: number, b: number, sinks = 0, recent = 0, keep: 'highest' | 'lowest' = 'highest'): number[] {
  if (n <= b) return range(0, n);
  const s = Math.min(sinks, b);
  const r = Math.min(recent, b - s);
  const pick = keep === 'highest' ? topIndices : bottomIndices;
  return [...range(0, s), ...pick(score, s, n - r, b - s - r), ...range(n - r, n)];
}

/** The layer → head loop: every head above its layer's budget keeps `keepOf(head, b, l, h)` (increasing indices). */
export function compactHeads<O extends ResolvedOptions>(input: MethodInput<O>, keepOf: (head: HeadCache, b: number, l: number, h: number) => ArrayLike<number>): void {
  input.cache.layers.forEach((layer, l) => {
    const b = input.layerBudgets[l]!;
    layer.heads.forEach((head, h) => {
      if (head.length > b) head.retain(keepOf(head, b, l, h), input.reserveSlots);
    });
  });
}

/** Compress every head by a score rule (see ScoreRule). A layer is scored as it stands, before any head is compacted. */
export function compressByScore<O extends ResolvedOptions>(input: MethodInput<O>, rule: ScoreRule): void {
  input.cache.layers.forEach((layer, l) => {
    const b = input.layerBudgets[l]!;
    const plan = layer.heads.map((head) => {
      const n = head.length;
      const s = Math.min(rule.sinks?.(b) ?? 0, b);
      return { n, s, r: Math.min(rule.recent?.(b, n) ?? 0, b - s) };
    });
    const choose = plan.some((p) => p.n > b && b - p.s - p.r > 0);
    if (choose && !rule.scores) throw new Error('compressByScore: a rule without scores must fill the budget with sinks and recent slots');
    const scores = choose ? rule.scores!(layer, l) : undefined;
    layer.heads.forEach((head, h) => {
      const { n, s, r } = plan[h]!;
      if (n > b) head.retain(keepByScore(scores?.[h] ?? [], n, b, s, r, rule.keep), input.reserveSlots);
    });
  });
}
