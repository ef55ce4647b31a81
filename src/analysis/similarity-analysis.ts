/**
 * `analyze similarity` (the paper's Figure 2): token × token cosine maps of the cached keys (after RoPE) and values
 * for chosen layers and KV heads, with their summary numbers.
 */
import type { KVCache } from '../cache/kv-cache.js';
import { similarityMatrixChart } from '../plot/similarity-matrix-chart.js';
import type { AnalysisChart, AnalysisResult } from './analysis-output.js';
import { cosineMatrix } from './cosine-similarity.js';
import { headVectors, type VectorKind } from './neighbour-similarity.js';
import { summarizeSimilarity, type SimilaritySummary } from './similarity-summary.js';

/** The largest prompt whose maps are built (a T × T map per head: 2048² floats = 16 MB). */
export const MAX_SIMILARITY_TOKENS = 2048;

export interface SimilarityOptions {
  layers: number[];
  heads: number[];
  /** Threshold of the "highly similar" shares (default 0.9). */
  threshold?: number;
  /** |i − j| beyond which a pair counts as far (default 8). */
  nearWindow?: number;
  /** For titles: the model's name and a description of the text. */
  modelName: string;
  textLabel: string;
}

export interface SimilarityEntry {
  layer: number;
  head: number;
  kind: VectorKind;
  summary: SimilaritySummary;
}

export interface SimilarityJson {
  analysis: 'similarity';
  model: string;
  text: string;
  tokens: number;
  layers: number[];
  heads: number[];
  entries: SimilarityEntry[];
  /** Means over the chosen layers and heads, keys and values side by side. */
  overall: Record<VectorKind, { meanAdjacent: number; adjacentAboveThreshold: number; meanFar: number; nearestIsAdjacent: number }>;
}

export function analyzeSimilarity(cache: KVCache, o: SimilarityOptions): AnalysisResult<SimilarityJson> {
  const entries: SimilarityEntry[] = [];
  const charts: AnalysisChart[] = [];
  const T = cache.layers[0]!.heads[0]!.length;
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    for (const layer of o.layers) {
      for (const head of o.heads) {
        const { vecs, n, dim } = headVectors(cache, layer, head, kind);
        const m = cosineMatrix(vecs, n, dim);
        const summary = summarizeSimilarity(m, n, { threshold: o.threshold ?? 0.9, nearWindow: o.nearWindow ?? 8 });
        entries.push({ layer, head, kind, summary });
        const adj = summary.adjacent;
        const what = kind === 'keys' ? 'Keys (after RoPE)' : 'Values';
        charts.push({
          name: `similarity-${kind}-l${layer}-h${head}`,
          title: `${what}: layer ${layer}, KV head ${head}`,
          svg: similarityMatrixChart({
            title: `${what}: cosine similarity, layer ${layer}, KV head ${head}`,
            subtitle:
              `${o.modelName}, ${n} tokens of ${o.textLabel}; adjacent pairs: mean ${fmt(adj?.mean)}, ` +
              `${pct(summary.adjacentAboveThreshold)} > ${summary.threshold}`,
            size: n,
            values: m,
            xLabel: 'token position',
            yLabel: 'token position',
            // Wide enough that the subtitle does not make the canvas wider than the square map.
            plotSize: 560,
            idPrefix: `${kind[0]}${layer}h${head}`,
          }),
        });
      }
    }
  }
  const overall = {} as SimilarityJson['overall'];
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    const es = entries.filter((e) => e.kind === kind);
    const mean = (f: (e: SimilarityEntry) => number): number => es.reduce((a, e) => a + f(e), 0) / Math.max(1, es.length);
    overall[kind] = {
      meanAdjacent: mean((e) => e.summary.adjacent?.mean ?? NaN),
      adjacentAboveThreshold: mean((e) => e.summary.adjacentAboveThreshold),
      meanFar: mean((e) => e.summary.meanFar),
      nearestIsAdjacent: mean((e) => e.summary.nearestIsAdjacent),
    };
  }
  return {
    json: { analysis: 'similarity', model: o.modelName, text: o.textLabel, tokens: T, layers: o.layers, heads: o.heads, entries, overall },
    charts,
  };
}

export function fmt(x: number | undefined | null, digits = 2): string {
  return x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

export function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : 'n/a';
}
