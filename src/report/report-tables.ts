/**
 * The report's tables in the paper's layout: one table per model and budget, a row per method (the full cache on
 * top as the reference), a column per task, then the average over tasks, the achieved budget, KV memory and the
 * prefill/compression/decode times; every number a mean over samples. Plus a fidelity table (KL from the full
 * cache, perplexity increase, top-1 agreement) where rows carry those fields.
 */
import { sampleStats, type SampleStats } from './sample-stats.js';
import { type BudgetGroup, type ModelResults, type ResultSummary } from './summarize-results.js';
import type { ReportRow } from './read-report-rows.js';

export interface ReportTable {
  /** Unique, usable as an HTML anchor. */
  id: string;
  model: string;
  kind: 'scores' | 'fidelity';
  title: string;
  /** What the numbers are (units, n, footnotes). */
  caption: string;
  header: string[];
  align: ('left' | 'right')[];
  rows: string[][];
  /** The numbers behind the rows (for --json). */
  data: Record<string, unknown>[];
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

export function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}

const DASH = '—';

/** Scores in [0, 1] are shown ×100 as the paper does; a task with scores outside [0, 1] is shown as is. */
export function scoreScale(rows: ReportRow[]): number {
  return rows.every((r) => r.score === null || (r.score >= 0 && r.score <= 1)) ? 100 : 1;
}

export function slug(s: string, max = 48): string {
  const out = s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return (out.length > max ? out.slice(out.length - max).replace(/^-+/, '') : out) || 'x';
}

function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = 0;
  let bestCount = -1;
  for (const [v, c] of counts) if (c > bestCount || (c === bestCount && v > best)) [best, bestCount] = [v, c];
  return best;
}

interface MethodAtBudget {
  label: string;
  budget: BudgetGroup;
  rows: ReportRow[];
}

/** The (method, budget) lines of one budget's table: the full cache first, then every method run at that budget. */
function linesFor(m: ModelResults, s: ResultSummary, budget: BudgetGroup): MethodAtBudget[] {
  const out: MethodAtBudget[] = [];
  for (const label of m.methods) {
    const full = m.rows.filter((r) => s.labelOf.get(r) === label && s.budgetOf.get(r)!.key === 'full');
    if (full.length > 0) out.push({ label, budget: s.budgetOf.get(full[0]!)!, rows: full });
  }
  if (budget.key === 'full') return out;
  for (const label of m.methods) {
    const rows = m.rows.filter((r) => s.labelOf.get(r) === label && s.budgetOf.get(r)!.key === budget.key);
    if (rows.length > 0) out.push({ label, budget, rows });
  }
  return out;
}

function scoreTable(m: ModelResults, s: ResultSummary, budget: BudgetGroup, multiModel: boolean): ReportTable {
  const scales = new Map(m.tasks.map((t) => [t, scoreScale(m.rows.filter((r) => r.task === t))]));
  const lines = linesFor(m, s, budget);
  const cellStats = lines.map((l) => m.tasks.map((t) => sampleStats(l.rows.filter((r) => r.task === t).map((r) => r.score))));
  // The usual n of each task column; cells that differ (an unfinished run, a failed cell) say their own n.
  const typicalN = m.tasks.map((_, ti) => {
    const ns = cellStats.map((row) => row[ti]).filter((c): c is SampleStats => c != null).map((c) => c.n);
    return ns.length ? mode(ns) : 0;
  });
  let partialAverage = false;
  const rows: string[][] = [];
  const data: Record<string, unknown>[] = [];
  lines.forEach((l, li) => {
    const stats = cellStats[li]!;
    const cells = stats.map((c, ti) => {
      if (c === null) return DASH;
      const v = (c.mean * scales.get(m.tasks[ti]!)!).toFixed(scales.get(m.tasks[ti]!) === 100 ? 1 : 2);
      return c.n === typicalN[ti] ? v : `${v} (n=${c.n})`;
    });
    const present = stats.map((c, ti) => (c === null ? null : c.mean * scales.get(m.tasks[ti]!)!)).filter((v): v is number => v !== null);
    const avg = present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
    const partial = present.length > 0 && present.length < m.tasks.length;
    partialAverage ||= partial;
    const achieved = sampleStats(l.rows.map((r) => r.budgetAchieved));
    const kv = sampleStats(l.rows.map((r) => r.kvBytes));
    const times = (['prefillMs', 'compressMs', 'decodeMs'] as const).map((f) => sampleStats(l.rows.map((r) => r[f])));
    const name = l.budget.key === 'full' ? `${l.label} (full cache)` : l.label;
    rows.push([
      name,
      ...cells,
      avg === null ? DASH : `${avg.toFixed(2)}${partial ? '*' : ''}`,
      achieved ? `${(achieved.mean * 100).toFixed(1)}%` : DASH,
      kv ? formatBytes(kv.mean) : DASH,
      ...times.map((t) => (t ? formatMs(t.mean) : DASH)),
    ]);
    data.push({
      method: l.label,
      budget: l.budget.key,
      tasks: Object.fromEntries(m.tasks.map((t, ti) => [t, stats[ti] ? { mean: stats[ti]!.mean, n: stats[ti]!.n, se: stats[ti]!.se } : null])),
      average: avg,
      averageScale: 'task means as shown (×100 for scores in [0, 1])',
      budgetAchieved: achieved?.mean ?? null,
      kvBytes: kv?.mean ?? null,
      prefillMs: times[0]?.mean ?? null,
      compressMs: times[1]?.mean ?? null,
      decodeMs: times[2]?.mean ?? null,
      rows: l.rows.length,
    });
  });
  const scaled = m.tasks.filter((t) => scales.get(t) === 100);
  const caption = [
    `Mean over samples; samples per cell unless marked: ${m.tasks.map((t, ti) => `${t} n = ${typicalN[ti]}`).join(', ')}.`,
    scaled.length === m.tasks.length ? 'Scores ×100.' : scaled.length > 0 ? `Scores ×100 for ${scaled.join(', ')}.` : '',
    'Average: mean of the task columns.',
    partialAverage ? '* averaged over the tasks this method has results for (the run is unfinished or a cell failed).' : '',
    'Budget: achieved kept slots as a share of the prompt; KV memory: mean bytes held by the cache; times: mean ms per sample.',
  ]
    .filter(Boolean)
    .join(' ');
  return {
    id: `table-${slug(m.model)}-${budget.slug}`,
    model: m.model,
    kind: 'scores',
    title: `${multiModel ? `${m.model}: ` : ''}KV budget ${budget.label}`,
    caption,
    header: ['Method', ...m.tasks, 'Average', 'Budget (achieved)', 'KV memory', 'Prefill (ms)', 'Compress (ms)', 'Decode (ms)'],
    align: ['left', ...m.tasks.map(() => 'right' as const), 'right', 'right', 'right', 'right', 'right', 'right'],
    rows,
    data,
  };
}

function fidelityTable(m: ModelResults, s: ResultSummary, multiModel: boolean): ReportTable | null {
  const fid = m.rows.filter((r) => r.klDivergence !== null || r.pplIncrease !== null || r.top1Agreement !== null);
  if (fid.length === 0) return null;
  const rows: string[][] = [];
  const data: Record<string, unknown>[] = [];
  const groups: BudgetGroup[] = [{ key: 'full', value: null, label: 'full cache', slug: 'full' }, ...m.budgets];
  const top1Scale = fid.every((r) => r.top1Agreement === null || r.top1Agreement <= 1) ? 100 : 1;
  // One block per task: teacher-forced fidelity and the decode-time ppl-stream measure different things.
  const tasks = [...new Set(fid.map((r) => r.task))].sort();
  for (const task of tasks) {
    for (const b of groups) {
      for (const label of m.methods) {
        const mine = fid.filter((r) => r.task === task && s.labelOf.get(r) === label && s.budgetOf.get(r)!.key === b.key);
        if (mine.length === 0) continue;
        const kl = sampleStats(mine.map((r) => r.klDivergence));
        const ppl = sampleStats(mine.map((r) => r.pplIncrease));
        const top1 = sampleStats(mine.map((r) => r.top1Agreement));
        rows.push([
          label,
          ...(tasks.length > 1 ? [task] : []),
          b.label,
          kl ? kl.mean.toFixed(4) : DASH,
          ppl ? ppl.mean.toFixed(3) : DASH,
          top1 ? `${(top1.mean * top1Scale).toFixed(1)}${top1Scale === 100 ? '%' : ''}` : DASH,
          String(mine.length),
        ]);
        data.push({ method: label, task, budget: b.key, klDivergence: kl?.mean ?? null, pplIncrease: ppl?.mean ?? null, top1Agreement: top1?.mean ?? null, n: mine.length });
      }
    }
  }
  return {
    id: `table-${slug(m.model)}-fidelity`,
    model: m.model,
    kind: 'fidelity',
    title: `${multiModel ? `${m.model}: ` : ''}Fidelity to the full cache`,
    caption:
      'Mean over samples (n = rows). KL: mean KL(p_full ‖ p_compressed) per forced token, in nats; perplexity increase over the full cache; top-1 agreement: forced tokens whose most likely next token matches the full cache.',
    header: ['Method', ...(tasks.length > 1 ? ['Task'] : []), 'Budget', 'KL (nats/token)', 'PPL increase', 'Top-1 agreement', 'n'],
    align: ['left', ...(tasks.length > 1 ? ['left' as const] : []), 'left', 'right', 'right', 'right', 'right'],
    rows,
    data,
  };
}

export function buildReportTables(summary: ResultSummary): ReportTable[] {
  const multi = summary.models.length > 1;
  const out: ReportTable[] = [];
  for (const m of summary.models) {
    const budgets: BudgetGroup[] = m.budgets.length > 0 ? m.budgets : [{ key: 'full', value: null, label: 'full cache only', slug: 'full' }];
    for (const b of budgets) {
      out.push(scoreTable(m, summary, b, multi));
    }
    const f = fidelityTable(m, summary, multi);
    if (f) out.push(f);
  }
  return out;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function tableToMarkdown(t: ReportTable): string {
  const lines = [
    `| ${t.header.map(mdCell).join(' | ')} |`,
    `| ${t.align.map((a) => (a === 'right' ? '---:' : ':---')).join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
  ];
  return lines.join('\n');
}
