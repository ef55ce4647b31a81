/**
 * `kvmerger report DIR`: rebuilds a run's report from `DIR/results.jsonl` alone: markdown tables (`DIR/report.md`),
 * SVG charts (`DIR/charts/*.svg`, and PNGs beside them on request), and a self-contained `DIR/index.html`. Works on a
 * run that is still going: whatever rows are complete so far are reported, with n per cell said.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KvError } from '../util/errors.js';
import { rasterizeSvg } from '../plot/rasterize-svg.js';
import { findFontFiles } from '../plot/find-font-files.js';
import { readReportRows, type SkippedLine } from './read-report-rows.js';
import { summarizeResults } from './summarize-results.js';
import { buildReportTables, tableToMarkdown, type ReportTable } from './report-tables.js';
import { buildReportCharts, type ReportChart } from './report-charts.js';
import { CHART_SECTIONS, renderReportHtml } from './report-html.js';

export interface ReportOptions {
  /** Also write charts/*.png (needs @resvg/resvg-js and a font). */
  png?: boolean;
  /** PNG pixels per SVG unit; default 2. */
  pngScale?: number;
}

export interface ReportResult {
  dir: string;
  rows: number;
  skipped: SkippedLine[];
  duplicates: number;
  models: string[];
  versions: string[];
  warnings: string[];
  tables: ReportTable[];
  /** Paths relative to dir: charts/<name>.svg (and .png with --png). */
  charts: string[];
  reportMd: string;
  indexHtml: string;
}

/** Kinds of files this report writes into charts/; only these are removed when stale. */
const CHART_PREFIXES = ['heatmap-', 'score-vs-budget-', 'scores-', 'kv-memory-', 'time-', 'layer-kept-', 'fidelity-'];

function writeAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

function summaryLines(dir: string, r: { rows: number; skipped: SkippedLine[]; duplicates: number }, models: string[], versions: string[], warnings: string[]): string[] {
  const lines = [`Built from ${join(dir, 'results.jsonl')}: ${r.rows} result rows.`];
  if (r.skipped.length > 0) {
    const shown = r.skipped.slice(0, 5).map((s) => `line ${s.line}: ${s.reason}`).join('; ');
    lines.push(`${r.skipped.length} line(s) skipped (${shown}${r.skipped.length > 5 ? '; …' : ''}).`);
  }
  if (r.duplicates > 0) lines.push(`${r.duplicates} repeated cell(s): the later row was used.`);
  lines.push(`Models: ${models.join(', ')}.`);
  if (versions.length > 0) lines.push(`kvmerger version: ${versions.join(', ')}.`);
  for (const w of warnings) lines.push(`Note: ${w}.`);
  return lines;
}

export async function writeReport(dir: string, options: ReportOptions = {}): Promise<ReportResult> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new KvError(`${dir}: no such folder; give 'kvmerger report' the --out folder of a 'kvmerger eval' run`);
  }
  const resultsPath = join(dir, 'results.jsonl');
  const read = readReportRows(resultsPath);
  if (read.rows.length === 0) {
    throw new KvError(
      `${resultsPath}: no usable result rows${read.skipped.length ? ` (${read.skipped.length} line(s) skipped, first: line ${read.skipped[0]!.line}: ${read.skipped[0]!.reason})` : ''}; ` +
        'wait for the run to finish a cell, or check that the file is the grid runner\'s output',
    );
  }
  if (options.png && findFontFiles().files.length === 0) {
    // Fail before writing anything rather than halfway through.
    await rasterizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
  }
  const summary = summarizeResults(read.rows);
  const tables = buildReportTables(summary);
  const charts = buildReportCharts(summary);
  const models = summary.models.map((m) => m.model);

  const chartsDir = join(dir, 'charts');
  mkdirSync(chartsDir, { recursive: true });
  const written = new Set<string>();
  const chartFiles: string[] = [];
  for (const c of charts) {
    writeAtomic(join(chartsDir, `${c.name}.svg`), c.svg);
    written.add(`${c.name}.svg`);
    chartFiles.push(`charts/${c.name}.svg`);
    if (options.png) {
      writeAtomic(join(chartsDir, `${c.name}.png`), await rasterizeSvg(c.svg, { scale: options.pngScale }));
      written.add(`${c.name}.png`);
      chartFiles.push(`charts/${c.name}.png`);
    }
  }
  // Charts from an earlier report that this one no longer makes would mislead; remove them (ours only).
  for (const f of readdirSync(chartsDir)) {
    if (/\.(svg|png)$/.test(f) && !written.has(f) && CHART_PREFIXES.some((p) => f.startsWith(p))) rmSync(join(chartsDir, f));
  }

  const title = `kvmerger report: ${models.join(', ')}`;
  const lines = summaryLines(dir, { rows: read.rows.length, skipped: read.skipped, duplicates: read.duplicates }, models, summary.versions, summary.warnings);
  writeAtomic(join(dir, 'report.md'), renderMarkdown(title, lines, models, tables, charts, options.png === true));
  writeAtomic(join(dir, 'index.html'), renderReportHtml({ title, summary: lines, models, tables, charts }));
  return {
    dir,
    rows: read.rows.length,
    skipped: read.skipped,
    duplicates: read.duplicates,
    models,
    versions: summary.versions,
    warnings: summary.warnings,
    tables,
    charts: chartFiles,
    reportMd: join(dir, 'report.md'),
    indexHtml: join(dir, 'index.html'),
  };
}

function renderMarkdown(title: string, summary: string[], models: string[], tables: ReportTable[], charts: ReportChart[], png: boolean): string {
  const out: string[] = [`# ${title}`, '', ...summary.map((s) => `- ${s}`), '', 'Open `index.html` for every table and chart on one page.', ''];
  const multi = models.length > 1;
  for (const model of models) {
    if (multi) out.push(`## Model ${model}`, '');
    for (const t of tables.filter((x) => x.model === model)) {
      out.push(`${multi ? '###' : '##'} ${t.title}`, '', tableToMarkdown(t), '', t.caption, '');
    }
    for (const section of CHART_SECTIONS) {
      const cs = charts.filter((c) => c.model === model && c.kind === section.kind);
      if (cs.length === 0) continue;
      out.push(`${multi ? '###' : '##'} ${section.heading}`, '');
      for (const c of cs) out.push(`![${c.title}](charts/${c.name}.${png ? 'png' : 'svg'})`);
      out.push('');
    }
  }
  return out.join('\n');
}
