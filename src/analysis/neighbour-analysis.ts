/**
 * `analyze neighbours` (the paper's Figure 3a): mean cosine similarity between a token and its neighbour at offsets
 * ±1 … ±k, per layer (over every KV head and token of one or more prompts), for keys and for values.
 */
import type { KVCache } from '../cache/kv-cache.js';
import { heatmapChart, type HeatmapCell } from '../plot/heatmap-chart.js';
import { lineChart, type LineSeries } from '../plot/line-chart.js';
import type { AnalysisChart, AnalysisResult } from './analysis-output.js';
import { groupLabel, KIND_COLORS, layerColor, layerGroups } from './layer-colors.js';
import { neighbourSimilarity, type LayerNeighbourStats, type VectorKind } from './neighbour-similarity.js';
import { fmt } from './similarity-analysis.js';

export interface NeighbourOptions {
  k: number;
  threshold?: number;
  modelName: string;
  textLabel: string;
}

export interface NeighbourJson {
  analysis: 'neighbours';
  model: string;
  text: string;
  prompts: number;
  tokensPerPrompt: number[];
  k: number;
  /** Offsets ±1…±k; −d has the same statistics as +d (the same pairs), so `perLayer` lists d = 1…k. */
  note: string;
  perLayer: Record<VectorKind, LayerNeighbourStats[]>;
  /** [offset − 1] mean over layers of the per-layer means, and its range over layers. */
  overall: Record<VectorKind, { offset: number; mean: number; minLayer: number; maxLayer: number }[]>;
  /** Mean over layers of the share of tokens whose most similar neighbour within ±k is adjacent. */
  nearestIsAdjacent: Record<VectorKind, number>;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

export function analyzeNeighbours(caches: readonly KVCache[], o: NeighbourOptions): AnalysisResult<NeighbourJson> {
  const k = o.k;
  const threshold = o.threshold ?? 0.9;
  const perLayer = {
    keys: neighbourSimilarity(caches, 'keys', k, threshold),
    values: neighbourSimilarity(caches, 'values', k, threshold),
  };
  const L = perLayer.keys.length;
  const overall = {} as NeighbourJson['overall'];
  const nearestIsAdjacent = {} as NeighbourJson['nearestIsAdjacent'];
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    overall[kind] = Array.from({ length: k }, (_, i) => {
      const ms = perLayer[kind].map((l) => l.offsets[i]!.mean);
      return { offset: i + 1, mean: mean(ms), minLayer: Math.min(...ms), maxLayer: Math.max(...ms) };
    });
    nearestIsAdjacent[kind] = mean(perLayer[kind].map((l) => l.nearestIsAdjacent));
  }
  // One y range for every chart, so keys and values read on the same scale.
  const allMeans = (['keys', 'values'] as VectorKind[]).flatMap((kind) => perLayer[kind].flatMap((l) => l.offsets.map((s) => s.mean)));
  const lo = Math.min(0, Math.floor(Math.min(...allMeans.filter(Number.isFinite)) * 10) / 10);
  const yDomain: [number, number] = [lo, 1];
  const signed = [...Array.from({ length: k }, (_, i) => -(k - i)), ...Array.from({ length: k }, (_, i) => i + 1)];
  const xTicks = k <= 8 ? signed : signed.filter((d) => d % Math.ceil(k / 4) === 0 || Math.abs(d) === 1);
  const groups = layerGroups(L);
  const subtitleBase = `${o.modelName}, ${caches.length} prompt${caches.length === 1 ? '' : 's'} of ${o.textLabel}; mean over KV heads and tokens`;
  const charts: AnalysisChart[] = [];
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    const what = kind === 'keys' ? 'Keys (after RoPE)' : 'Values';
    const series: LineSeries[] = groups.map((g, gi) => ({
      name: groupLabel(g),
      color: layerColor(gi, groups.length),
      points: signed.map((d) => ({ x: d, y: mean(g.map((l) => perLayer[kind][l]!.offsets[Math.abs(d) - 1]!.mean)) })),
    }));
    charts.push({
      name: `neighbours-${kind}`,
      title: `${what}: similarity to neighbours by offset`,
      svg: lineChart({
        title: `${what}: cosine similarity to the neighbour at offset d`,
        subtitle: subtitleBase,
        xLabel: 'offset d (tokens; −d and +d cover the same pairs)',
        yLabel: 'mean cosine similarity',
        series,
        spread: 'none',
        xTicks,
        xDomain: [-k, k],
        yDomain,
        idPrefix: `nb${kind[0]}`,
      }),
    });
    const cells: HeatmapCell[] = [];
    perLayer[kind].forEach((l) => l.offsets.forEach((s) => cells.push({ x: s.offset, y: l.layer, value: s.mean })));
    charts.push({
      name: `neighbours-heatmap-${kind}`,
      title: `${what}: similarity by layer and offset`,
      svg: heatmapChart({
        title: `${what}: mean cosine to the neighbour at offset ±d`,
        subtitle: subtitleBase,
        xValues: Array.from({ length: k }, (_, i) => i + 1),
        yValues: Array.from({ length: L }, (_, l) => l),
        cells,
        xLabel: 'offset |d| (tokens)',
        yLabel: 'layer',
        valueLabel: 'mean cosine',
        domain: yDomain,
        formatValue: (v) => v.toFixed(2),
        idPrefix: `nh${kind[0]}`,
      }),
    });
  }
  charts.push({
    name: 'neighbours-keys-vs-values',
    title: 'Keys vs values: similarity to neighbours',
    svg: lineChart({
      title: 'Keys vs values: cosine similarity to the neighbour at offset d',
      subtitle: `${subtitleBase}; line: mean over layers, band: range of the layers' means`,
      xLabel: 'offset d (tokens)',
      yLabel: 'mean cosine similarity',
      series: (['keys', 'values'] as VectorKind[]).map((kind) => ({
        name: kind,
        color: KIND_COLORS[kind],
        points: signed.map((d) => {
          const s = overall[kind][Math.abs(d) - 1]!;
          return { x: d, y: s.mean, lo: s.minLayer, hi: s.maxLayer };
        }),
      })),
      spread: 'band',
      xTicks,
      xDomain: [-k, k],
      yDomain,
      idPrefix: 'nbkv',
    }),
  });
  return {
    json: {
      analysis: 'neighbours',
      model: o.modelName,
      text: o.textLabel,
      prompts: caches.length,
      tokensPerPrompt: caches.map((c) => c.layers[0]!.heads[0]!.length),
      k,
      note: 'offset -d covers exactly the token pairs of +d, so averaged over tokens both have the same statistics; perLayer lists d = 1..k',
      perLayer,
      overall,
      nearestIsAdjacent,
    },
    charts,
  };
}

/** One line per kind for the terminal: adjacent mean and the mean at the farthest offset. */
export function neighbourSummaryLines(j: NeighbourJson): string[] {
  return (['keys', 'values'] as VectorKind[]).map((kind) => {
    const o = j.overall[kind];
    return `${kind.padEnd(6)} mean cosine at ±1: ${fmt(o[0]?.mean)}, at ±${j.k}: ${fmt(o[j.k - 1]?.mean)}; nearest of ±1..±${j.k} is adjacent for ${fmt(j.nearestIsAdjacent[kind] * 100, 0)}% of tokens`;
  });
}
