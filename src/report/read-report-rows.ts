/**
 * Reads the grid runner's `results.jsonl` for reports, tolerantly: a run may still be going (the last line cut off
 * mid-write), may predate a field, or may hold a few bad lines. Every row (a ResultRow, result-row.ts) becomes a
 * `ReportRow` whose missing numbers are null; lines that cannot be used are counted with the reason, never fatal.
 * When the same cell appears twice (a re-run), the later row wins.
 */
import { readFileSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { stableJson } from '../util/stable-json.js';
import type { ResultRow } from '../eval/grid/result-row.js';

/** Nullable copies of a result row's fields: the reader puts null where a row lacks a number. */
type NullableFields<K extends keyof ResultRow> = { [P in K]: ResultRow[P] | null };

/**
 * A result row as the report reads it (ResultRow's names, so a renamed field breaks the reader at compile time):
 * the identifying strings always present, the numbers null when missing, the fidelity metrics lifted out of
 * `metrics`, per-head slot counts averaged to per-layer.
 */
export type ReportRow = Pick<ResultRow, 'model' | 'task' | 'sample' | 'method'> &
  NullableFields<'budgetRequested' | 'budgetAchieved' | 'score' | 'kvBytes' | 'prefillMs' | 'compressMs' | 'decodeMs' | 'version' | 'contextLength' | 'depth' | 'promptTokens' | 'slotsPerLayer'> & {
    /** The method's configuration (ResultRow.options); {} when the row has none. */
    options: Record<string, unknown>;
    /** Mean KL divergence from the full cache, nats per token (`metrics.meanKL`). */
    klDivergence: number | null;
    pplIncrease: number | null;
    top1Agreement: number | null;
    /** The row as written, for fields the report does not know. */
    raw: Record<string, unknown>;
    /** 1-based line in the file. */
    line: number;
  };

export interface SkippedLine {
  line: number;
  reason: string;
}

export interface ReportRows {
  rows: ReportRow[];
  skipped: SkippedLine[];
  /** Rows dropped because a later row had the same cell. */
  duplicates: number;
}

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}

function str(v: unknown): string | null {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function slots(v: unknown): number[] | null {
  if (!Array.isArray(v) || v.length === 0) return null;
  const out: number[] = [];
  for (const layer of v) {
    if (Array.isArray(layer)) {
      const heads = layer.map(num).filter((x): x is number => x !== null);
      if (heads.length === 0) return null;
      out.push(heads.reduce((a, b) => a + b, 0) / heads.length);
    } else {
      const x = num(layer);
      if (x === null) return null;
      out.push(x);
    }
  }
  return out;
}

export function parseReportRows(text: string): ReportRows {
  const skipped: SkippedLine[] = [];
  const byCell = new Map<string, ReportRow>();
  let duplicates = 0;
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    const line = i + 1;
    const t = lineText.trim();
    if (t === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      skipped.push({ line, reason: last ? 'incomplete last line (run still writing?)' : 'not valid JSON' });
      return;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      skipped.push({ line, reason: 'not a JSON object' });
      return;
    }
    const r = obj as Record<string, unknown>;
    const model = str(r.model);
    const task = str(r.task);
    const method = str(r.method);
    if (model === null || task === null || method === null) {
      skipped.push({ line, reason: `missing ${[model === null && 'model', task === null && 'task', method === null && 'method'].filter(Boolean).join(', ')}` });
      return;
    }
    // A field at the top level, else inside `metrics` or `meta` (where a runner may nest task numbers), under any alias.
    const field = (...names: string[]): number | null => {
      for (const holder of [r, r.metrics, r.meta]) {
        if (holder === null || typeof holder !== 'object' || Array.isArray(holder)) continue;
        for (const n of names) {
          const v = num((holder as Record<string, unknown>)[n]);
          if (v !== null) return v;
        }
      }
      return null;
    };
    const options = r.options !== null && typeof r.options === 'object' && !Array.isArray(r.options) ? (r.options as Record<string, unknown>) : {};
    const row: ReportRow = {
      model,
      task,
      sample: str(r.sample) ?? `line-${line}`,
      method,
      options,
      budgetRequested: num(r.budgetRequested),
      budgetAchieved: num(r.budgetAchieved),
      score: num(r.score),
      kvBytes: num(r.kvBytes),
      prefillMs: num(r.prefillMs),
      compressMs: num(r.compressMs),
      decodeMs: num(r.decodeMs),
      version: str(r.version),
      contextLength: field('contextLength'),
      depth: field('depth'),
      promptTokens: field('promptTokens'),
      klDivergence: field('klDivergence', 'meanKL'),
      pplIncrease: field('pplIncrease'),
      top1Agreement: field('top1Agreement'),
      slotsPerLayer: slots(r.slotsPerLayer),
      raw: r,
      line,
    };
    const key = [model, task, row.sample, method, stableJson(options), row.budgetRequested, row.contextLength, row.depth].join('\u0000');
    if (byCell.has(key)) {
      duplicates++;
      byCell.delete(key); // re-insert so the order follows the later row
    }
    byCell.set(key, row);
  });
  return { rows: [...byCell.values()], skipped, duplicates };
}

export function readReportRows(path: string): ReportRows {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new KvError(
      code === 'ENOENT'
        ? `${path}: no such file; point 'kvmerger report' at the --out folder of a 'kvmerger eval' run`
        : `${path}: cannot read (${(err as Error).message})`,
    );
  }
  return parseReportRows(text);
}
