// KVMerger, taken apart (issue 19; docs/ablation.md): each of the paper's steps against its alternative, at 50% and
// 35% of the prompt's KV slots, on the built-in model and stories260K, through the evaluation grid's own code
// (planGrid builds the samples and cells, runSampleCells prefills each sample once for every variant, resultRow
// writes the rows, writeReport draws the charts).
//
// Two splits, never mixed: `tune` (seed 1, built-in model, its own samples) picks the best configuration among the
// candidates; `eval` (seed 0, other samples) measures every variant, the candidates included. The choice is made from
// tune/summary.json alone (`pickBest` below) and reported beside the eval numbers.
//
// Usage: npx tsx scripts/ablation.ts --out runs/ablation [--split tune|eval|both] [--models builtin,stories260k]
//        [--threads 1]
// Output: OUT/<split>/<model>/results.jsonl (grid rows), OUT/<split>/<model>/index.html (kvmerger report),
//         OUT/<split>/summary.json and summary.md (mean ± standard error per variant, budget and metric).
import { mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../src/model/load-model.js';
import { planGrid, resultRow, type GridSpec } from '../src/eval/grid/run-grid.js';
import { runSampleCells, type CellOutcome } from '../src/eval/grid/run-sample.js';
import { getTask } from '../src/eval/tasks/registry.js';
import type { GridCell } from '../src/eval/grid/grid-cell.js';
import type { ResultRow } from '../src/eval/grid/result-row.js';
import type { Sample } from '../src/eval/tasks/task.js';
import { writeReport } from '../src/report/report.js';
import { methodColor } from '../src/plot/method-colors.js';

/** A configuration: a method and its `--method-option` strings, maybe depending on the budget. */
interface Variant {
  label: string;
  /** What the row tests. */
  factor: string;
  method: string;
  options: (b: number) => string[];
  /** A candidate for "the best configuration" (chosen on the tune split). */
  candidate?: boolean;
  /** Run on the eval split only (rows that exist because of the tune split's choice). */
  evalOnly?: boolean;
}

const fixed = (...o: string[]) => () => o.map((x) => `kvmerger.${x}`);
const h2oSplit = (b: number) => [`kvmerger.recentRatio=${b / 2}`, `kvmerger.attnRatio=${b / 2}`];

export const VARIANTS: Variant[] = [
  { label: 'full', factor: 'ceiling', method: 'full', options: () => [] },
  { label: 'h2o', factor: 'baseline', method: 'h2o', options: () => [] },
  { label: 'paper', factor: 'the paper as stated (kvmerger defaults)', method: 'kvmerger', options: fixed(), candidate: true },
  { label: 'sets=random', factor: 'merging-set identification', method: 'kvmerger', options: fixed('sets=random') },
  { label: 'pivot=centre', factor: 'pivot', method: 'kvmerger', options: fixed('pivot=centre') },
  { label: 'weighting=mean', factor: 'Gaussian weights', method: 'kvmerger', options: fixed('weighting=mean') },
  { label: 'valueScale=none', factor: 'value scaling', method: 'kvmerger', options: fixed('valueScale=none'), candidate: true },
  { label: 'proportional (valueScale=none)', factor: 'value scaling', method: 'kvmerger', options: fixed('valueScale=none', 'proportional=true'), candidate: true },
  { label: 'proportional + |S|', factor: 'value scaling', method: 'kvmerger', options: fixed('proportional=true') },
  { label: 'sigma=rmsDistance', factor: 'sigma rule', method: 'kvmerger', options: fixed('sigma=rmsDistance') },
  { label: 'sigma=5', factor: 'sigma rule', method: 'kvmerger', options: fixed('sigma=5') },
  { label: 'budgetMode=faithful', factor: 'budget mode', method: 'kvmerger', options: fixed('budgetMode=faithful') },
  { label: 'granularity=headShared', factor: 'per-layer sets', method: 'kvmerger', options: fixed('granularity=headShared') },
  { label: 'none + H2O split', factor: 'candidate', method: 'kvmerger', options: (b) => [...fixed('valueScale=none')(), ...h2oSplit(b)], candidate: true },
  { label: 'proportional + H2O split', factor: 'candidate', method: 'kvmerger', options: (b) => [...fixed('valueScale=none', 'proportional=true')(), ...h2oSplit(b)], candidate: true },
  { label: 'none + global', factor: 'candidate', method: 'kvmerger', options: fixed('valueScale=none', 'thresholdScope=global'), candidate: true },
  { label: 'proportional + global', factor: 'candidate', method: 'kvmerger', options: fixed('valueScale=none', 'proportional=true', 'thresholdScope=global'), candidate: true },
  { label: 'cam', factor: 'baseline', method: 'cam', options: () => [], evalOnly: true },
  { label: 'cam proportional', factor: 'CaM with proportional attention', method: 'cam', options: () => ['cam.proportional=true'], evalOnly: true },
  // eval only: the registered result of the tune split's choice, and each part taken out of it again
  { label: 'kvmerger-prop', factor: 'the tune split\'s choice, registered', method: 'kvmerger-prop', options: () => [], evalOnly: true },
  ...(['sets=random', 'pivot=centre', 'weighting=mean', 'sigma=rmsDistance', 'sigma=5', 'granularity=headShared', 'budgetMode=faithful'] as const).map(
    (o): Variant => ({ label: `prop: ${o}`, factor: 'on kvmerger-prop', method: 'kvmerger-prop', options: () => [`kvmerger-prop.${o}`], evalOnly: true }),
  ),
];

interface ModelPlan {
  name: string;
  path?: string;
  tokenizer?: string;
  tasks: { task: string; lengths: number[]; depths?: number[]; count: number; options?: Record<string, number> }[];
}

const DATA = resolve(process.env['KVMERGER_SHARED_DATA'] ?? join(import.meta.dirname, '..', '..', 'shared', 'data'));

function modelPlans(split: 'tune' | 'eval'): ModelPlan[] {
  if (split === 'tune') {
    return [
      {
        name: 'builtin',
        tasks: [
          { task: 'fidelity', lengths: [1024, 2048], count: 1, options: { k: 128 } },
          { task: 'passkey', lengths: [1022, 2044], depths: [20, 60, 90], count: 1 },
        ],
      },
      STORIES([{ task: 'fidelity', lengths: [192, 384], count: 2, options: { k: 96 } }]),
    ];
  }
  return [
    {
      name: 'builtin',
      tasks: [
        { task: 'fidelity', lengths: [1024, 2048], count: 2, options: { k: 128 } },
        { task: 'passkey', lengths: [1022, 2044, 3065], depths: [0, 25, 50, 75, 100], count: 1 },
        { task: 'niah', lengths: [1024], depths: [25, 75], count: 1 },
      ],
    },
    STORIES([{ task: 'fidelity', lengths: [192, 384], count: 3, options: { k: 96 } }]),
  ];
}

function STORIES(tasks: ModelPlan['tasks']): ModelPlan {
  return { name: 'stories260k', path: join(DATA, 'models', 'stories260K.bin'), tokenizer: join(DATA, 'models', 'tok512.bin'), tasks };
}

const BUDGETS = [0.5, 0.35];

async function runModel(out: string, mp: ModelPlan, seed: number, threads: number): Promise<void> {
  const dir = join(out, mp.name);
  mkdirSync(dir, { recursive: true });
  const rowsPath = join(dir, 'results.jsonl');
  const done = new Set<string>();
  if (existsSync(rowsPath)) for (const line of readFileSync(rowsPath, 'utf8').split('\n')) if (line.trim()) done.add((JSON.parse(line) as { cellKey: string }).cellKey);
  const model = await loadModel(mp.path, { ...(mp.tokenizer ? { tokenizerPath: mp.tokenizer } : {}), threads });
  try {
    const specOf = (v: Variant, b: number): GridSpec => ({
      model: mp.name,
      backend: 'ort',
      tasks: mp.tasks.map((t) => ({ task: getTask(t.task), count: t.count, lengths: t.lengths, ...(t.depths ? { depths: t.depths } : {}), ...(t.options ? { options: t.options } : {}) })),
      methods: [v.method],
      budgets: [b],
      seed,
      methodOptions: v.options(b),
    });
    // every (variant, budget) plans the same samples (same seed): join their cells per sample
    const bySample = new Map<string, { sample: Sample; cells: { cell: GridCell; spec: GridSpec; label: string }[] }>();
    for (const v of VARIANTS.filter((x) => seed === 0 || !x.evalOnly)) {
      for (const b of v.method === 'full' ? [1] : BUDGETS) {
        const spec = specOf(v, b);
        const plan = planGrid(model, spec);
        for (const p of plan.samples) {
          const key = `${p.task.name}/${p.sample.id}`;
          const e = bySample.get(key) ?? { sample: p.sample, cells: [] };
          for (const c of p.cells) if (!done.has(c.cellKey)) e.cells.push({ cell: c, spec, label: v.label });
          bySample.set(key, e);
        }
      }
    }
    let n = 0;
    const total = [...bySample.values()].reduce((s, e) => s + e.cells.length, 0);
    const t0 = Date.now();
    for (const { sample, cells } of bySample.values()) {
      const byKey = new Map(cells.map((c) => [c.cell.cellKey, c]));
      await runSampleCells(model, sample, cells.map((c) => c.cell), { seed }, (o: CellOutcome) => {
        const c = byKey.get(o.cell.cellKey)!;
        appendFileSync(rowsPath, `${JSON.stringify({ ...resultRow(c.spec, o), variant: c.label })}\n`);
        n++;
      });
      process.stderr.write(`${mp.name} seed ${seed}: ${n}/${total} cells, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await model.backend.dispose();
  }
}

interface Row { variant: string; task: string; budgetRequested: number; score: number; metrics: Record<string, number>; sample: string; budgetAchieved: number; kvBytes: number }

/** mean ± standard error (n − 1 in the variance). */
function meanSe(xs: number[]): { mean: number; se: number; n: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const v = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, se: Math.sqrt(v / n), n };
}

type Summary = Record<string, Record<string, Record<string, { mean: number; se: number; n: number }>>>; // model → variant@budget → metric

function summarize(out: string, models: string[]): Summary {
  const s: Summary = {};
  for (const m of models) {
    const path = join(out, m, 'results.jsonl');
    if (!existsSync(path)) continue;
    const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
    const groups = new Map<string, Record<string, number[]>>();
    for (const r of rows) {
      const key = `${r.variant}@${r.budgetRequested}`;
      const g = groups.get(key) ?? {};
      const add = (k: string, x: number) => (g[k] ??= []).push(x);
      if (r.task === 'fidelity') {
        add('kl', r.metrics['meanKL']!);
        add('top1', r.metrics['top1Agreement']!);
      } else add(r.task, r.score);
      add('achieved', r.budgetAchieved);
      groups.set(key, g);
    }
    s[m] = {};
    for (const [k, g] of groups) s[m]![k] = Object.fromEntries(Object.entries(g).map(([metric, xs]) => [metric, meanSe(xs)]));
  }
  return s;
}

/**
 * The tune split's choice among the candidates: the lowest mean rank over six criteria, KL at 50% and 35% on each
 * model (lower better) and pass keys at 50% and 35% on the built-in model (higher better; ties share the rank).
 */
export function pickBest(s: Summary): string {
  const cands = VARIANTS.filter((v) => v.candidate).map((v) => v.label);
  const crit: [string, string, number, boolean][] = [
    ['builtin', 'kl', 0.5, true], ['builtin', 'kl', 0.35, true], ['stories260k', 'kl', 0.5, true], ['stories260k', 'kl', 0.35, true],
    ['builtin', 'passkey', 0.5, false], ['builtin', 'passkey', 0.35, false],
  ];
  const rank = new Map(cands.map((c) => [c, 0]));
  for (const [model, metric, b, lower] of crit) {
    const val = (c: string) => (lower ? 1 : -1) * (s[model]?.[`${c}@${b}`]?.[metric]?.mean ?? NaN);
    for (const c of cands) rank.set(c, rank.get(c)! + cands.filter((o) => val(o) < val(c)).length / crit.length);
  }
  return cands.slice().sort((a, b) => rank.get(a)! - rank.get(b)!)[0]!;
}

/**
 * Paired KL differences against a reference variant (same model, sample and budget): mean ± standard error of
 * KL(variant) − KL(ref) and on how many samples the variant's KL is the lower.
 */
function paired(out: string, models: string[], ref: string): string {
  const lines: string[] = [];
  for (const m of models) {
    const path = join(out, m, 'results.jsonl');
    if (!existsSync(path)) continue;
    const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row).filter((r) => r.task === 'fidelity');
    const kl = new Map(rows.map((r) => [`${r.variant}|${r.budgetRequested}|${r.sample}`, r.metrics['meanKL']!]));
    lines.push(`#### ${m}: KL(variant) − KL(${ref}), paired by sample`, '', '| variant | 50%: diff ± s.e. (lower on) | 35%: diff ± s.e. (lower on) |', '|---|---:|---:|');
    for (const v of VARIANTS) {
      if (v.method === 'full' || v.label === ref) continue;
      const cell = (b: number) => {
        const d: number[] = [];
        for (const r of rows) if (r.variant === v.label && r.budgetRequested === b) {
          const o = kl.get(`${ref}|${b}|${r.sample}`);
          if (o !== undefined) d.push(r.metrics['meanKL']! - o);
        }
        if (d.length === 0) return '—';
        const x = meanSe(d);
        return `${x.mean >= 0 ? '+' : ''}${x.mean.toFixed(4)} ± ${x.se.toFixed(4)} (${d.filter((y) => y < 0).length}/${d.length})`;
      };
      lines.push(`| ${v.label} | ${cell(0.5)} | ${cell(0.35)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function markdown(s: Summary): string {
  const f = (x: { mean: number; se: number } | undefined, pct = false, d = 4) => (x ? (pct ? `${(100 * x.mean).toFixed(0)} ± ${(100 * x.se).toFixed(0)}` : `${x.mean.toFixed(d)} ± ${x.se.toFixed(d)}`) : '—');
  const lines: string[] = [];
  for (const [model, groups] of Object.entries(s)) {
    const hasPk = Object.values(groups).some((g) => g['passkey']);
    const hasNiah = Object.values(groups).some((g) => g['niah']);
    lines.push(`### ${model}`, '');
    const head = ['variant', 'factor', 'kept 50%', 'kept 35%', 'KL 50%', 'KL 35%', 'top-1 50%', 'top-1 35%', ...(hasPk ? ['pass key 50%', 'pass key 35%'] : []), ...(hasNiah ? ['needle 50%', 'needle 35%'] : [])];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
    for (const v of VARIANTS) {
      const g = (b: number) => groups[`${v.label}@${v.method === 'full' ? 1 : b}`];
      if (!g(0.5)) continue;
      const kept = (b: number) => (g(b)?.['achieved'] ? `${(100 * g(b)!['achieved']!.mean).toFixed(1)}%` : '—');
      const cells = [v.label, v.factor, kept(0.5), kept(0.35), f(g(0.5)?.['kl']), f(g(0.35)?.['kl']), f(g(0.5)?.['top1'], true), f(g(0.35)?.['top1'], true)];
      if (hasPk) cells.push(f(g(0.5)?.['passkey'], true), f(g(0.35)?.['passkey'], true));
      if (hasNiah) cells.push(f(g(0.5)?.['niah'], true), f(g(0.35)?.['niah'], true));
      lines.push(`| ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The charts: one report per group of variants (the report names a series by its method; ≤ 6 per chart read well). */
const CHART_GROUPS: Record<string, string[]> = {
  'value-scaling': ['paper', 'valueScale=none', 'proportional (valueScale=none)', 'proportional + |S|'],
  cam: ['cam', 'cam proportional', 'kvmerger-prop'],
  'sets-pivot-weights': ['paper', 'sets=random', 'pivot=centre', 'weighting=mean'],
  'sigma-granularity-budget': ['paper', 'sigma=rmsDistance', 'sigma=5', 'granularity=headShared', 'budgetMode=faithful'],
  candidates: ['none + H2O split', 'proportional + H2O split', 'none + global', 'proportional + global'],
  'prop-parts-1': ['kvmerger-prop', 'prop: sets=random', 'prop: pivot=centre', 'prop: weighting=mean'],
  'prop-parts-2': ['kvmerger-prop', 'prop: sigma=rmsDistance', 'prop: sigma=5', 'prop: granularity=headShared', 'prop: budgetMode=faithful'],
};

/** OUT/<model>/charts-by-factor/<group>/: the group's rows (plus full and h2o), each series named by its variant. */
async function factorReports(out: string, model: string): Promise<void> {
  const path = join(out, model, 'results.jsonl');
  if (!existsSync(path)) return;
  const rows = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ResultRow & { variant: string });
  for (const [group, labels] of Object.entries(CHART_GROUPS)) {
    const dir = join(out, model, 'charts-by-factor', group);
    mkdirSync(dir, { recursive: true });
    const keep = rows.filter((r) => r.variant === 'full' || r.variant === 'h2o' || labels.includes(r.variant));
    if (!keep.some((r) => labels.includes(r.variant))) continue;
    // the series' name is the variant (| would break the report's tables), made unique in colour within the chart
    // (unknown names take a hashed palette colour: a trailing ' ·' moves a colliding one); full and h2o keep theirs.
    // Options are dropped so that the report does not split a variant whose options follow the budget.
    const used = new Set([methodColor('full'), methodColor('h2o')]);
    const names = new Map<string, string>();
    for (const label of labels) {
      let name = label.replace('|S|', 'setSize');
      for (let k = 0; k < 12 && used.has(methodColor(name)); k++) name += ' ·';
      used.add(methodColor(name));
      names.set(label, name);
    }
    const text = keep.map((r) => JSON.stringify({ ...r, options: {}, method: names.get(r.variant) ?? r.variant })).join('\n');
    writeFileSync(join(dir, 'results.jsonl'), `${text}\n`);
    await writeReport(dir, { png: PNG });
  }
}

/** --png: the factor charts also as PNG (the report's rasteriser). */
let PNG = false;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { out: { type: 'string' }, split: { type: 'string' }, models: { type: 'string' }, threads: { type: 'string' }, 'no-report': { type: 'boolean' }, 'summary-only': { type: 'boolean' }, 'charts-only': { type: 'boolean' }, png: { type: 'boolean' } } });
  if (!values.out) throw new Error('--out DIR is required');
  const threads = Number(values.threads ?? 1);
  PNG = values.png === true;
  const splits = values.split === 'tune' ? ['tune'] : values.split === 'eval' ? ['eval'] : ['tune', 'eval'];
  const only = values.models?.split(',');
  for (const split of splits as ('tune' | 'eval')[]) {
    const out = join(values.out, split);
    const plans = modelPlans(split).filter((p) => !only || only.includes(p.name));
    if (!values['summary-only']) for (const mp of plans) await runModel(out, mp, split === 'tune' ? 1 : 0, threads);
    const s = summarize(out, modelPlans(split).map((p) => p.name));
    const best = split === 'tune' ? pickBest(s) : undefined;
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ split, seed: split === 'tune' ? 1 : 0, ...(best ? { best } : {}), summary: s }, null, 1)}\n`);
    const names = modelPlans(split).map((p) => p.name);
    writeFileSync(join(out, 'summary.md'), `${best ? `best candidate on this split: ${best}\n\n` : ''}${markdown(s)}\n${paired(out, names, 'paper')}\n${paired(out, names, 'h2o')}\n${split === 'eval' ? paired(out, names, 'kvmerger-prop') : ''}`);
    process.stderr.write(`${split}: ${join(out, 'summary.md')}${best ? ` (best: ${best})` : ''}\n`);
    if (!values['no-report'] && !values['summary-only']) {
      for (const mp of plans) {
        await writeReport(join(out, mp.name));
        if (split === 'eval') await factorReports(out, mp.name);
      }
    }
    if (values['charts-only']) for (const mp of plans) await factorReports(out, mp.name);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('ablation.ts')) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
