/**
 * Organises report rows the way the tables and charts read them: per model, the tasks (in the order the run wrote
 * them), the methods (canonical order; a method run with several option sets becomes one labelled variant per set),
 * and the budgets (the full cache apart, then compressed budgets from largest to smallest).
 */
import { methodBaseName, sortMethods } from '../plot/method-colors.js';
import type { ReportRow } from './read-report-rows.js';
import { stableJson } from '../util/stable-json.js';

export interface BudgetGroup {
  /** 'full', 'none' (a compressed method without a recorded budget) or the budget as a string ('0.5'). */
  key: string;
  /** The requested fraction, null for 'full' and 'none'. */
  value: number | null;
  /** '50%', 'full cache', 'budget not recorded'. */
  label: string;
  /** For file names: 'full', 'b50', 'b12_5', 'none'. */
  slug: string;
}

export interface ModelResults {
  model: string;
  rows: ReportRow[];
  tasks: string[];
  methods: string[];
  /** Compressed budgets (and 'none' when present), largest first; never 'full'. */
  budgets: BudgetGroup[];
  /** True when some row is the full cache. */
  hasFull: boolean;
}

export interface ResultSummary {
  models: ModelResults[];
  /** Method label of every row (the method, or `method (key=value)` for a variant). */
  labelOf: Map<ReportRow, string>;
  budgetOf: Map<ReportRow, BudgetGroup>;
  versions: string[];
  warnings: string[];
}

const FULL: BudgetGroup = { key: 'full', value: null, label: 'full cache', slug: 'full' };
const NONE: BudgetGroup = { key: 'none', value: null, label: 'budget not recorded', slug: 'none' };


export function budgetGroup(row: ReportRow): BudgetGroup {
  if (methodBaseName(row.method) === 'full') return FULL;
  const b = row.budgetRequested;
  if (b === null) return NONE;
  const pct = Number((b * 100).toFixed(2));
  return { key: String(b), value: b, label: `${pct}%`, slug: `b${String(pct).replace('.', '_')}` };
}

/** Above this many option sets for one method, options are assumed to vary per sample and are not used as labels. */
const MAX_VARIANTS = 6;

function variantLabels(rows: ReportRow[], warnings: string[]): Map<ReportRow, string> {
  const labels = new Map<ReportRow, string>();
  const byMethod = new Map<string, ReportRow[]>();
  for (const r of rows) {
    const list = byMethod.get(r.method) ?? [];
    list.push(r);
    byMethod.set(r.method, list);
  }
  for (const [method, list] of byMethod) {
    const sets = new Map<string, Record<string, unknown>>();
    for (const r of list) sets.set(stableJson(r.options), r.options);
    if (sets.size <= 1 || sets.size > MAX_VARIANTS) {
      if (sets.size > MAX_VARIANTS) warnings.push(`method ${method}: ${sets.size} different option sets; pooled under one name`);
      for (const r of list) labels.set(r, method);
      continue;
    }
    const keys = new Set<string>();
    for (const o of sets.values()) for (const k of Object.keys(o)) keys.add(k);
    // A key that only some tasks' rows carry (chatTemplate: LongBench's chat datasets) splits a method only where
    // its values differ: between rows of one task, or among the rows that have it.
    const differing = [...keys].sort().filter((k) => {
      const present = new Set(list.filter((r) => k in r.options).map((r) => stableJson(r.options[k])));
      if (present.size > 1) return true;
      const perTask = new Map<string, Set<string>>();
      for (const r of list) {
        const seen = perTask.get(r.task) ?? new Set<string>();
        seen.add(k in r.options ? stableJson(r.options[k]) : '\u0000absent');
        perTask.set(r.task, seen);
      }
      return [...perTask.values()].some((v) => v.size > 1);
    });
    for (const r of list) {
      const parts = differing
        .filter((k) => k in r.options)
        .map((k) => `${k}=${typeof r.options[k] === 'string' ? (r.options[k] as string) : stableJson(r.options[k])}`);
      labels.set(r, parts.length > 0 ? `${method} (${parts.join(', ')})` : method);
    }
  }
  return labels;
}

export function summarizeResults(rows: ReportRow[]): ResultSummary {
  const warnings: string[] = [];
  const labelOf = variantLabels(rows, warnings);
  const budgetOf = new Map<ReportRow, BudgetGroup>();
  for (const r of rows) budgetOf.set(r, budgetGroup(r));
  const modelNames: string[] = [];
  for (const r of rows) if (!modelNames.includes(r.model)) modelNames.push(r.model);
  const models = modelNames.map((model): ModelResults => {
    const mine = rows.filter((r) => r.model === model);
    const tasks: string[] = [];
    for (const r of mine) if (!tasks.includes(r.task)) tasks.push(r.task);
    const budgets = new Map<string, BudgetGroup>();
    for (const r of mine) {
      const b = budgetOf.get(r)!;
      if (b.key !== 'full') budgets.set(b.key, b);
    }
    return {
      model,
      rows: mine,
      tasks,
      methods: sortMethods(mine.map((r) => labelOf.get(r)!)),
      budgets: [...budgets.values()].sort((a, b) => (b.value ?? -1) - (a.value ?? -1)),
      hasFull: mine.some((r) => budgetOf.get(r)!.key === 'full'),
    };
  });
  const versions = [...new Set(rows.map((r) => r.version).filter((v): v is string => v !== null))].sort();
  if (versions.length > 1) warnings.push(`rows come from several versions: ${versions.join(', ')}`);
  return { models, labelOf, budgetOf, versions, warnings };
}
