/**
 * `analyze layer-ratios` (the paper's Figure 3b): KVMerger's per-layer kept ratio at a fixed threshold over many
 * samples from several tasks, with its spread, and the "persistent sparsity" claim tested (do the per-layer ratios
 * of different samples and tasks move together?). The same rule applied to adjacent values gives the contrast.
 */
import { lineChart, type LineSeries } from '../plot/line-chart.js';
import type { AnalysisChart, AnalysisResult } from './analysis-output.js';
import { KIND_COLORS, taskColor } from './layer-colors.js';
import type { VectorKind } from './neighbour-similarity.js';
import { ratioPersistence, type PersistenceReport } from './ratio-persistence.js';
import { fmt } from './similarity-analysis.js';

export interface RatioSampleResult {
  task: string;
  id: string;
  /** Tokens prefilled (BOS included). */
  tokens: number;
  /** [layer] kept ratio of keys (KVMerger's rule) and of values (the same rule on values). */
  keys: number[];
  values: number[];
}

export interface LayerRatioSettings {
  epsilon: number;
  recentRatio: number;
  attnRatio: number;
  sinkTokens: number;
  /** The budget whose faithful shares were used, when given. */
  budget?: number;
}

export interface LayerRatioOptions {
  modelName: string;
  settings: LayerRatioSettings;
}

export interface LayerRatioJson {
  analysis: 'layer-ratios';
  model: string;
  settings: LayerRatioSettings;
  /** What the ratio means. */
  definition: string;
  tasks: string[];
  samples: RatioSampleResult[];
  persistence: Record<VectorKind, PersistenceReport>;
  /** Kept share of the whole cache, mean over samples. */
  meanKeptShare: Record<VectorKind, number>;
}

const DEFINITION =
  'kept ratio of a layer = slots left after merging every run of adjacent slots whose cosine > epsilon (and not reserved) into one, over the slots before (tokens × KV heads); 1 = nothing merged';

export function analyzeLayerRatios(samples: readonly RatioSampleResult[], o: LayerRatioOptions): AnalysisResult<LayerRatioJson> {
  if (samples.length === 0) throw new Error('analyzeLayerRatios: no samples');
  const tasks = [...new Set(samples.map((s) => s.task))];
  const persistence = {
    keys: ratioPersistence(samples.map((s) => ({ task: s.task, ratios: s.keys }))),
    values: ratioPersistence(samples.map((s) => ({ task: s.task, ratios: s.values }))),
  };
  const meanKeptShare = {
    keys: samples.reduce((a, s) => a + s.keys.reduce((x, y) => x + y, 0) / s.keys.length, 0) / samples.length,
    values: samples.reduce((a, s) => a + s.values.reduce((x, y) => x + y, 0) / s.values.length, 0) / samples.length,
  };
  const st = o.settings;
  const reserve =
    st.recentRatio > 0 || st.attnRatio > 0 || st.sinkTokens > 0
      ? `reserved: ${st.recentRatio} recent, ${st.attnRatio} attention${st.sinkTokens ? `, ${st.sinkTokens} sink` : ''}${st.budget !== undefined ? ` (faithful shares of budget ${st.budget})` : ''}`
      : 'no reserved tokens';
  const subtitle = `${o.modelName}; ε = ${st.epsilon}, ${reserve}; ${samples.length} samples, ${tasks.length} task${tasks.length === 1 ? '' : 's'}`;
  const charts: AnalysisChart[] = [];
  const L = samples[0]!.keys.length;
  const xTicks = L <= 16 ? Array.from({ length: L }, (_, l) => l) : undefined;
  // Room at both ends: the chart nudges series apart sideways, which would push end markers out of the plot.
  const xPad: [number, number] = [-0.3, Math.max(1, L - 1) + 0.3];
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    const p = persistence[kind];
    const series: LineSeries[] = tasks.map((t, ti) => {
      const ss = samples.filter((s) => s.task === t);
      return {
        name: `${t} (${ss.length})`,
        color: taskColor(ti),
        points: Array.from({ length: L }, (_, l) => {
          const xs = ss.map((s) => s[kind][l]!);
          return { x: l, y: xs.reduce((a, b) => a + b, 0) / xs.length, lo: Math.min(...xs), hi: Math.max(...xs) };
        }),
      };
    });
    series.push({
      name: `all samples, ± std`,
      color: '#404040',
      points: p.perLayer.map((s) => ({ x: s.layer, y: s.mean, lo: s.mean - s.std, hi: s.mean + s.std })),
    });
    const what = kind === 'keys' ? 'KVMerger (adjacent keys)' : 'the same rule on adjacent values';
    // Zoom in when every ratio is small, so the per-layer pattern stays visible (the keys-vs-values chart keeps 0–1).
    const top = Math.max(...series.flatMap((s) => s.points.map((pt) => pt.hi ?? pt.y)));
    const yTop = top > 0.6 ? 1 : Math.min(1, Math.ceil((top + 0.02) * 10) / 10);
    charts.push({
      name: `layer-ratios-${kind}`,
      title: `Per-layer kept ratio: ${what}`,
      svg: lineChart({
        title: `Per-layer kept ratio at a fixed threshold: ${what}`,
        subtitle: `${subtitle}; bars: min–max; pairwise r ${fmt(p.meanPairwisePearson)}, layer explains ${p.layerVarianceShare === null ? 'n/a' : `${Math.round(p.layerVarianceShare * 100)}%`} of variance`,
        xLabel: 'layer',
        yLabel: 'kept slots / prompt slots',
        series,
        spread: 'bars',
        ...(xTicks ? { xTicks } : {}),
        xDomain: xPad,
        yDomain: [0, yTop],
        legendTitle: 'task (samples)',
        idPrefix: `lr${kind[0]}`,
      }),
    });
  }
  charts.push({
    name: 'layer-ratios-keys-vs-values',
    title: 'Per-layer kept ratio: keys vs values',
    svg: lineChart({
      title: 'Per-layer kept ratio at a fixed threshold: keys vs values',
      subtitle: `${subtitle}; mean over samples, bars: min–max`,
      xLabel: 'layer',
      yLabel: 'kept slots / prompt slots',
      series: (['keys', 'values'] as VectorKind[]).map((kind) => ({
        name: kind,
        color: KIND_COLORS[kind],
        points: persistence[kind].perLayer.map((s) => ({ x: s.layer, y: s.mean, lo: s.min, hi: s.max })),
      })),
      spread: 'bars',
      ...(xTicks ? { xTicks } : {}),
      xDomain: xPad,
      yDomain: [0, 1],
      idPrefix: 'lrkv',
    }),
  });
  return {
    json: { analysis: 'layer-ratios', model: o.modelName, settings: o.settings, definition: DEFINITION, tasks, samples: [...samples], persistence, meanKeptShare },
    charts,
  };
}

/** Terminal summary: per kind, the per-layer means and the persistence numbers. */
export function layerRatioSummaryLines(j: LayerRatioJson): string[] {
  const lines: string[] = [];
  for (const kind of ['keys', 'values'] as VectorKind[]) {
    const p = j.persistence[kind];
    lines.push(
      `${kind.padEnd(6)} kept ratio per layer: ${p.perLayer.map((s) => `${fmt(s.mean, 3)}±${fmt(s.std, 3)}`).join(' ')}; ` +
        `pairwise r ${fmt(p.meanPairwisePearson)} (within task ${fmt(p.withinTaskPearson)}, across ${fmt(p.acrossTaskPearson)}), mean CV ${fmt(p.meanCv)}, ` +
        `layer explains ${p.layerVarianceShare === null ? 'n/a' : `${Math.round(p.layerVarianceShare * 100)}%`} of the variance`,
    );
  }
  return lines;
}
