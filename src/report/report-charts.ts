/**
 * The report's charts, built from rows alone: needle heatmaps (context length × depth, one per model, task, method
 * and budget: the paper's Figure 5), score against budget per task, per-layer kept ratios (where rows carry
 * `slotsPerLayer`), grouped bars of scores, KV memory and time, and fidelity against budget. Every chart holds one
 * task (or, for score bars, the tasks that share a metric, one group each), with the metric named on its axis: rows
 * of different tasks are never pooled into one point. Every chart uses the same colour per method.
 */
import { groupedBarChart, type BarSeries } from '../plot/grouped-bar-chart.js';
import { heatmapChart, type HeatmapCell } from '../plot/heatmap-chart.js';
import { lineChart, type LineSeries, type ReferenceLine } from '../plot/line-chart.js';
import { methodBaseName } from '../plot/method-colors.js';
import { niceTicks } from '../plot/nice-ticks.js';
import { type BudgetGroup, type ModelResults, type ResultSummary } from './summarize-results.js';
import { sampleStats } from './sample-stats.js';
import { scoreScale, slug } from './report-tables.js';
import { scoreAxisLabel, scoreMetric, type ScoreMetric } from '../eval/metrics/score-metric.js';
import type { ReportRow } from './read-report-rows.js';

export interface ReportChart {
  /** File name without extension, unique within the report: charts/<name>.svg. */
  name: string;
  model: string;
  kind: 'heatmap' | 'score-vs-budget' | 'layer-kept' | 'scores-bars' | 'memory-bars' | 'time-bars' | 'fidelity-vs-budget';
  title: string;
  svg: string;
}

type Ctx = { m: ModelResults; s: ResultSummary; multi: boolean };

const label = (ctx: Ctx, r: ReportRow): string => ctx.s.labelOf.get(r)!;
const budget = (ctx: Ctx, r: ReportRow): BudgetGroup => ctx.s.budgetOf.get(r)!;
const modelNote = (ctx: Ctx): string => `model ${ctx.m.model}`;
const refName = (method: string): string => (methodBaseName(method) === 'full' ? method : `${method} (full cache)`);

/** The x axis of a chart against budget: the budgets in percent, the domain padded by 6% of their span each side. */
function budgetAxis(budgets: BudgetGroup[]) {
  const xTicks = budgets.map((b) => b.value! * 100).sort((a, b) => a - b);
  const span = xTicks[xTicks.length - 1]! - xTicks[0]!;
  const pad = span > 0 ? span * 0.06 : 5;
  return {
    xLabel: 'KV budget (% of prompt tokens kept)',
    xTicks,
    xDomain: [xTicks[0]! - pad, xTicks[xTicks.length - 1]! + pad] as [number, number],
    formatX: (v: number) => `${Number(v.toFixed(1))}%`,
    legendTitle: 'method',
  };
}

/** One line per method: the mean of `value` over its rows at each budget (× scale), error bars ±1 standard error. */
function budgetLines(ctx: Ctx, methods: string[], budgets: BudgetGroup[], rows: ReportRow[], value: (r: ReportRow) => number | null, scale: number): LineSeries[] {
  return methods
    .map((method) => ({
      name: method,
      points: budgets.flatMap((b) => {
        const st = sampleStats(rows.filter((r) => label(ctx, r) === method && budget(ctx, r).key === b.key).map(value));
        return st ? [{ x: b.value! * 100, y: st.mean * scale, lo: (st.mean - st.se) * scale, hi: (st.mean + st.se) * scale }] : [];
      }),
    }))
    .filter((s) => s.points.length > 0);
}

function heatmaps(ctx: Ctx): ReportChart[] {
  const out: ReportChart[] = [];
  const { m } = ctx;
  for (const task of m.tasks) {
    const grid = m.rows.filter((r) => r.task === task && r.contextLength !== null && r.depth !== null && r.score !== null);
    if (grid.length === 0) continue;
    const xValues = [...new Set(grid.map((r) => r.contextLength!))].sort((a, b) => a - b);
    const yValues = [...new Set(grid.map((r) => r.depth!))].sort((a, b) => a - b);
    if (xValues.length * yValues.length < 2) continue;
    const groups: BudgetGroup[] = [...(m.hasFull ? [budget(ctx, m.rows.find((r) => budget(ctx, r).key === 'full')!)] : []), ...m.budgets];
    const domainMax = grid.every((r) => r.score! <= 1) ? 1 : Math.max(...grid.map((r) => r.score!));
    for (const b of groups) {
      for (const method of m.methods) {
        const mine = grid.filter((r) => label(ctx, r) === method && budget(ctx, r).key === b.key);
        if (mine.length === 0) continue;
        const cells: HeatmapCell[] = [];
        const ns: number[] = [];
        for (const x of xValues) {
          for (const y of yValues) {
            const st = sampleStats(mine.filter((r) => r.contextLength === x && r.depth === y).map((r) => r.score));
            if (st) {
              cells.push({ x, y, value: st.mean, n: st.n });
              ns.push(st.n);
            }
          }
        }
        const overall = sampleStats(mine.map((r) => r.score))!;
        const nText = Math.min(...ns) === Math.max(...ns) ? `n = ${ns[0]} per cell` : `n = ${Math.min(...ns)}–${Math.max(...ns)} per cell`;
        const title = `${method} · ${b.key === 'full' ? 'full cache' : `${b.label} KV budget`} · ${task}`;
        out.push({
          name: `heatmap-${slug(m.model)}-${slug(task)}-${slug(method)}-${b.slug}`,
          model: m.model,
          kind: 'heatmap',
          title,
          svg: heatmapChart({
            title,
            subtitle: `${modelNote(ctx)}; mean score per cell (${nText}); overall ${overall.mean.toFixed(3)}`,
            xValues,
            yValues,
            cells,
            xLabel: 'context length (tokens)',
            yLabel: 'needle depth (% of context)',
            valueLabel: scoreMetric(task).name,
            domain: [0, domainMax],
            series: method,
            idPrefix: `h${out.length}-${slug(m.model, 16)}`,
          }),
        });
      }
    }
  }
  return out;
}

/**
 * A y domain from 0 (or below, for negative values) to a round value above the data: for quantities whose size
 * matters (KL, kept share), so that a small spread is not stretched over the whole axis.
 */
function fromZero(series: LineSeries[]): [number, number] {
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y])).filter(Number.isFinite);
  const first = niceTicks(Math.min(0, ...ys), Math.max(0, ...ys), 5).domain;
  // The chart ticks its domain again; a domain that is already round at that step gets labels at both ends.
  return niceTicks(first[0], first[1], 5).domain;
}

/** True when the task's rows are teacher-forced (fidelity, ppl-stream): their score is top-1 agreement. */
function isFidelityTask(m: ModelResults, task: string): boolean {
  return m.rows.some((r) => r.task === task && (r.klDivergence !== null || r.top1Agreement !== null));
}

/**
 * Budget → score lines per method, with the full cache as a dashed reference; one chart per task, its metric named on
 * the y axis. Tasks of different metrics are never averaged into one point (the tables keep the paper's average
 * column). Teacher-forced tasks are left to the fidelity charts, whose top-1 chart is their score.
 */
function scoreVsBudget(ctx: Ctx): ReportChart[] {
  const { m } = ctx;
  const budgets = m.budgets.filter((b) => b.value !== null);
  if (budgets.length === 0) return [];
  const out: ReportChart[] = [];
  const compressed = m.methods.filter((method) => m.rows.some((r) => label(ctx, r) === method && budget(ctx, r).value !== null));
  const fullMethods = m.methods.filter((method) => m.rows.some((r) => label(ctx, r) === method && budget(ctx, r).key === 'full'));
  const common = budgetAxis(budgets);
  for (const task of m.tasks) {
    if (isFidelityTask(m, task)) continue;
    const taskRows = m.rows.filter((r) => r.task === task && r.score !== null);
    if (taskRows.length === 0) continue;
    const scale = scoreScale(taskRows);
    const series = budgetLines(ctx, compressed, budgets, taskRows, (r) => r.score, scale);
    const refs: ReferenceLine[] = fullMethods.flatMap((method) => {
      const st = sampleStats(taskRows.filter((r) => label(ctx, r) === method && budget(ctx, r).key === 'full').map((r) => r.score));
      return st ? [{ name: refName(method), y: st.mean * scale }] : [];
    });
    if (series.length === 0) continue;
    const title = `Score against KV budget: ${task}`;
    out.push({
      name: `score-vs-budget-${slug(m.model)}-${slug(task)}`,
      model: m.model,
      kind: 'score-vs-budget',
      title,
      svg: lineChart({
        ...common,
        title,
        subtitle: `${modelNote(ctx)}; task ${task}; mean over samples, error bars ±1 standard error`,
        yLabel: scoreAxisLabel(scoreMetric(task), scale),
        series,
        referenceLines: refs,
        yDomain: scale === 100 ? [0, 100] : undefined,
        idPrefix: `sb-${slug(m.model, 16)}-${slug(task, 24)}`,
      }),
    });
  }
  return out;
}

/**
 * Kept slots per layer as a share of the prompt, per method, with a band of ±1 standard deviation across samples
 * (Figure 3b's persistence question); one chart per task and budget, since prompts of different tasks compress
 * differently. The denominator is the full cache's slots for the same sample when the run has it (same units
 * whatever slotsPerLayer counts), else promptTokens, else contextLength.
 */
function layerKept(ctx: Ctx): ReportChart[] {
  const { m } = ctx;
  const withSlots = m.rows.filter((r) => r.slotsPerLayer !== null);
  if (withSlots.length === 0) return [];
  const sampleKey = (r: ReportRow): string => [r.task, r.sample, r.contextLength, r.depth].join('\u0000');
  const fullSlots = new Map<string, number[]>();
  for (const r of withSlots) if (budget(ctx, r).key === 'full') fullSlots.set(sampleKey(r), r.slotsPerLayer!);
  const out: ReportChart[] = [];
  for (const task of m.tasks) {
    for (const b of m.budgets) {
      const series: LineSeries[] = [];
      let rowsUsed = 0;
      for (const method of m.methods) {
        const mine = withSlots.filter((r) => r.task === task && label(ctx, r) === method && budget(ctx, r).key === b.key);
        const ratios: number[][] = [];
        for (const r of mine) {
          const full = fullSlots.get(sampleKey(r));
          const denom = (l: number): number | null =>
            full && full[l] !== undefined && full[l]! > 0 ? full[l]! : r.promptTokens ?? r.contextLength ?? null;
          const ratio = r.slotsPerLayer!.map((v, l) => {
            const d = denom(l);
            return d ? (100 * v) / d : NaN;
          });
          if (ratio.some(Number.isFinite)) ratios.push(ratio);
        }
        if (ratios.length === 0) continue;
        rowsUsed += ratios.length;
        const layers = Math.max(...ratios.map((r) => r.length));
        const points = [];
        for (let l = 0; l < layers; l++) {
          const st = sampleStats(ratios.map((r) => r[l] ?? NaN));
          if (st) points.push({ x: l, y: st.mean, lo: Math.max(0, st.mean - st.sd), hi: st.mean + st.sd });
        }
        series.push({ name: method, points });
      }
      if (series.length === 0) continue;
      const title = `Kept slots per layer at ${b.label} KV budget: ${task}`;
      out.push({
        name: `layer-kept-${slug(m.model)}-${slug(task)}-${b.slug}`,
        model: m.model,
        kind: 'layer-kept',
        title,
        svg: lineChart({
          title,
          subtitle: `${modelNote(ctx)}; task ${task}; mean over ${rowsUsed} rows, band ±1 standard deviation across samples`,
          xLabel: 'layer',
          yLabel: 'kept slots (% of prompt tokens)',
          series,
          spread: 'band',
          yDomain: fromZero(series),
          formatX: (v) => String(v),
          legendTitle: 'method',
          idPrefix: `lk-${slug(m.model, 16)}-${slug(task, 24)}-${b.slug}`,
        }),
      });
    }
  }
  return out;
}

/**
 * Grouped bars: scores at each budget (one chart per budget and metric, a group per task of that metric, no average
 * across tasks), KV memory per task (a group per budget), and time per phase per task and budget. Memory and time
 * depend on the prompt's length, so rows of different tasks are never pooled.
 */
function bars(ctx: Ctx): ReportChart[] {
  const { m } = ctx;
  const out: ReportChart[] = [];
  const fullRows = (method: string): ReportRow[] => m.rows.filter((r) => label(ctx, r) === method && budget(ctx, r).key === 'full');
  // A method's rows at a budget; the full cache (which has no budget) stands in every budget's chart as reference.
  const atBudget = (method: string, b: BudgetGroup): ReportRow[] => {
    const rows = m.rows.filter((r) => label(ctx, r) === method && budget(ctx, r).key === b.key);
    return rows.length > 0 ? rows : fullRows(method);
  };
  const byMetric = new Map<string, { metric: ScoreMetric; scale: number; tasks: string[] }>();
  for (const task of m.tasks) {
    const taskRows = m.rows.filter((r) => r.task === task);
    if (!taskRows.some((r) => r.score !== null)) continue;
    const metric = scoreMetric(task, isFidelityTask(m, task));
    const scale = scoreScale(taskRows);
    const key = `${metric.name}\u0000${scale}`;
    const entry = byMetric.get(key) ?? { metric, scale, tasks: [] };
    entry.tasks.push(task);
    byMetric.set(key, entry);
  }
  for (const { metric, scale, tasks } of byMetric.values()) {
    for (const b of m.budgets.length ? m.budgets : [null]) {
      const series: BarSeries[] = [];
      for (const method of m.methods) {
        const rows = b === null ? fullRows(method) : atBudget(method, b);
        if (rows.length === 0) continue;
        const stats = tasks.map((t) => sampleStats(rows.filter((r) => r.task === t).map((r) => r.score)));
        const values = stats.map((st) => (st ? st.mean * scale : null));
        if (values.every((v) => v === null)) continue;
        series.push({ name: method, values, errors: stats.map((st) => (st ? st.se * scale : null)) });
      }
      if (series.length === 0) continue;
      const title = `${b === null ? 'Scores with the full cache' : `Scores at ${b.label} KV budget`}: ${metric.name}`;
      out.push({
        name: `scores-${slug(m.model)}-${slug(metric.name)}-${b === null ? 'full' : b.slug}`,
        model: m.model,
        kind: 'scores-bars',
        title,
        svg: groupedBarChart({
          title,
          subtitle: `${modelNote(ctx)}; mean over samples, error bars ±1 standard error${b === null ? '' : '; the full cache for reference'}`,
          groups: tasks,
          series,
          xLabel: 'task',
          yLabel: scoreAxisLabel(metric, scale),
          yDomain: scale === 100 ? [0, 100] : undefined,
          legendTitle: 'method',
          idPrefix: `sc-${slug(m.model, 16)}-${slug(metric.name, 24)}-${b?.slug ?? 'full'}`,
        }),
      });
    }
  }
  // KV memory per task: one group per budget (the full cache first), one bar per method.
  const memGroups: BudgetGroup[] = [
    ...(m.hasFull ? [m.rows.map((r) => budget(ctx, r)).find((g) => g.key === 'full')!] : []),
    ...m.budgets,
  ];
  for (const task of m.tasks) {
    const taskRows = m.rows.filter((r) => r.task === task);
    const memMax = Math.max(0, ...taskRows.map((r) => r.kvBytes ?? 0));
    if (memMax <= 0) continue;
    const [unit, div] = memMax >= 1024 * 1024 ? ['MiB', 1024 * 1024] : memMax >= 1024 ? ['KiB', 1024] : ['bytes', 1];
    const series: BarSeries[] = m.methods
      .map((method) => {
        const values = memGroups.map((g) => {
          const st = sampleStats(taskRows.filter((r) => label(ctx, r) === method && budget(ctx, r).key === g.key).map((r) => r.kvBytes));
          return st ? st.mean / div : null;
        });
        return { name: method, values };
      })
      .filter((s) => s.values.some((v) => v !== null));
    if (series.length === 0) continue;
    const title = `KV cache memory: ${task}`;
    out.push({
      name: `kv-memory-${slug(m.model)}-${slug(task)}`,
      model: m.model,
      kind: 'memory-bars',
      title,
      svg: groupedBarChart({
        title,
        subtitle: `${modelNote(ctx)}; task ${task}; mean bytes the cache holds after compression, over samples`,
        groups: memGroups.map((g) => (g.key === 'full' ? 'full cache' : `${g.label} budget`)),
        series,
        xLabel: 'KV budget',
        yLabel: `KV memory (${unit})`,
        legendTitle: 'method',
        idPrefix: `mem-${slug(m.model, 16)}-${slug(task, 24)}`,
      }),
    });
  }
  // Time per phase, per task and budget.
  const phases = ['prefillMs', 'compressMs', 'decodeMs'] as const;
  for (const task of m.tasks) {
    const taskRows = m.rows.filter((r) => r.task === task);
    if (!taskRows.some((r) => r.prefillMs !== null || r.compressMs !== null || r.decodeMs !== null)) continue;
    for (const b of m.budgets.length ? m.budgets : [null]) {
      const series: BarSeries[] = [];
      for (const method of m.methods) {
        const rows = (b === null ? fullRows(method) : atBudget(method, b)).filter((r) => r.task === task);
        if (rows.length === 0) continue;
        const stats = phases.map((p) => sampleStats(rows.map((r) => r[p])));
        series.push({ name: method, values: stats.map((s) => s?.mean ?? null), errors: stats.map((s) => s?.se ?? null) });
      }
      if (series.length === 0) continue;
      const title = `${b === null ? 'Time per sample with the full cache' : `Time per sample at ${b.label} KV budget`}: ${task}`;
      out.push({
        name: `time-${slug(m.model)}-${slug(task)}-${b?.slug ?? 'full'}`,
        model: m.model,
        kind: 'time-bars',
        title,
        svg: groupedBarChart({
          title,
          subtitle: `${modelNote(ctx)}; task ${task}; mean over samples, error bars ±1 standard error`,
          groups: ['prefill', 'compress', 'decode'],
          series,
          xLabel: 'phase',
          yLabel: 'time (ms)',
          legendTitle: 'method',
          idPrefix: `t-${slug(m.model, 16)}-${slug(task, 24)}-${b?.slug ?? 'full'}`,
        }),
      });
    }
  }
  return out;
}

/** KL, perplexity increase and top-1 agreement against budget: one chart per teacher-forced task and metric. */
function fidelityVsBudget(ctx: Ctx): ReportChart[] {
  const { m } = ctx;
  const budgets = m.budgets.filter((b) => b.value !== null);
  if (budgets.length === 0) return [];
  const out: ReportChart[] = [];
  const metrics = [
    { field: 'klDivergence' as const, name: 'kl', title: 'KL divergence from the full cache', yLabel: 'KL(p_full ‖ p_compressed) (nats per token)', scale: 1 },
    { field: 'pplIncrease' as const, name: 'ppl', title: 'Perplexity increase over the full cache', yLabel: 'perplexity increase (compressed − full)', scale: 1 },
    { field: 'top1Agreement' as const, name: 'top1', title: 'Top-1 agreement with the full cache', yLabel: 'top-1 agreement with the full cache (%)', scale: 100 },
  ];
  for (const task of m.tasks) {
    for (const metric of metrics) {
      const rows = m.rows.filter((r) => r.task === task && r[metric.field] !== null);
      if (rows.length === 0) continue;
      const scale = metric.scale === 100 && rows.every((r) => r[metric.field]! <= 1) ? 100 : 1;
      const series = budgetLines(ctx, m.methods, budgets, rows, (r) => r[metric.field], scale);
      if (series.length === 0) continue;
      const title = `${metric.title}: ${task}`;
      out.push({
        name: `fidelity-${metric.name}-${slug(m.model)}-${slug(task)}`,
        model: m.model,
        kind: 'fidelity-vs-budget',
        title,
        svg: lineChart({
          ...budgetAxis(budgets),
          title,
          subtitle: `${modelNote(ctx)}; task ${task}; mean over samples, error bars ±1 standard error`,
          yLabel: scale === 100 ? metric.yLabel : metric.yLabel.replace(' (%)', ''),
          series,
          yDomain: scale === 100 ? [0, 100] : fromZero(series),
          idPrefix: `f-${metric.name}-${slug(m.model, 16)}-${slug(task, 24)}`,
        }),
      });
    }
  }
  return out;
}

export function buildReportCharts(summary: ResultSummary): ReportChart[] {
  const multi = summary.models.length > 1;
  const out: ReportChart[] = [];
  for (const m of summary.models) {
    const ctx: Ctx = { m, s: summary, multi };
    out.push(...scoreVsBudget(ctx), ...bars(ctx), ...layerKept(ctx), ...fidelityVsBudget(ctx), ...heatmaps(ctx));
  }
  // Unique names even if two model names slug alike.
  const seen = new Map<string, number>();
  for (const c of out) {
    const k = seen.get(c.name) ?? 0;
    seen.set(c.name, k + 1);
    if (k > 0) c.name = `${c.name}-${k + 1}`;
  }
  return out;
}
