/**
 * The static HTML page of a report: every table and every chart (SVG inlined, so the page is one self-contained
 * file that opens from file:// with no network and no external assets), grouped by model and chart kind, with a
 * table of contents.
 */
import { escapeXml } from '../plot/svg-document.js';
import type { ReportChart } from './report-charts.js';
import type { ReportTable } from './report-tables.js';

export interface ReportPage {
  title: string;
  /** Lines for the summary paragraph (rows read, skipped, versions, warnings). */
  summary: string[];
  models: string[];
  tables: ReportTable[];
  charts: ReportChart[];
}

export const CHART_SECTIONS: { kind: ReportChart['kind']; heading: string }[] = [
  { kind: 'score-vs-budget', heading: 'Score against KV budget' },
  { kind: 'scores-bars', heading: 'Scores per task' },
  { kind: 'fidelity-vs-budget', heading: 'Fidelity against KV budget' },
  { kind: 'layer-kept', heading: 'Kept slots per layer' },
  { kind: 'memory-bars', heading: 'KV memory' },
  { kind: 'time-bars', heading: 'Time' },
  { kind: 'heatmap', heading: 'Needle heatmaps (context length × depth)' },
];

const STYLE = `
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 0 auto; max-width: 1500px; padding: 16px 24px 48px; color: #222; background: #fff; }
h1 { font-size: 24px; } h2 { font-size: 20px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 36px; } h3 { font-size: 16px; margin-top: 24px; }
.table-wrap { width: fit-content; max-width: 100%; max-height: 75vh; overflow: auto; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 4px 8px; } th { background: #f3f3f3; max-width: 12em; } td { white-space: nowrap; }
td.r, th.r { text-align: right; } td.l, th.l { text-align: left; }
thead th { position: sticky; top: 0; z-index: 1; }
td:first-child, th:first-child { position: sticky; left: 0; background: #fff; } thead th:first-child { z-index: 2; background: #f3f3f3; }
tbody tr:nth-child(even) td:first-child { background: #fafafa; }
tbody tr:nth-child(even) { background: #fafafa; }
.caption { font-size: 12px; color: #555; max-width: 1100px; margin: 0 0 16px; }
.summary { font-size: 13px; color: #333; } .summary li { margin: 2px 0; }
.tables { display: flex; flex-wrap: wrap; column-gap: 32px; align-items: flex-start; }
.tables > section { min-width: 0; max-width: 100%; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, var(--chart-min, 480px)), 1fr)); gap: 16px; align-items: start; }
figure { margin: 0; border: 1px solid #e4e4e4; padding: 6px; background: #fff; min-width: 0; }
.charts.single figure { max-width: 880px; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 11px; color: #666; margin-top: 4px; }
nav ul { columns: 2; font-size: 13px; }
.swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: middle; }
@media print { .charts { display: block; } figure { break-inside: avoid; margin-bottom: 12px; } }
`;

function tableHtml(t: ReportTable): string {
  const cls = (i: number): string => (t.align[i] === 'right' ? 'r' : 'l');
  const head = `<tr>${t.header.map((h, i) => `<th class="${cls(i)}">${escapeXml(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c, i) => `<td class="${cls(i)}">${escapeXml(c)}</td>`).join('')}</tr>`).join('\n');
  // Wide tables (many tasks or methods) scroll inside their box instead of running off the page.
  return `<section><h3 id="${t.id}">${escapeXml(t.title)}</h3>\n<div class="table-wrap"><table>\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody>\n</table></div>\n<p class="caption">${escapeXml(t.caption)}</p></section>`;
}

/** The width an SVG was drawn at (its `width` attribute). */
function svgWidth(c: ReportChart): number {
  const w = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(c.svg)?.[1]);
  return Number.isFinite(w) && w > 0 ? w : 720;
}

function figureHtml(c: ReportChart): string {
  // The SVG is inlined as written (ids are prefixed per chart, so several on one page do not clash).
  return `<figure id="${c.name}">${c.svg.trim()}<figcaption>charts/${escapeXml(c.name)}.svg</figcaption></figure>`;
}

export function renderReportHtml(page: ReportPage): string {
  const parts: string[] = [];
  const toc: string[] = [];
  const multi = page.models.length > 1;
  for (const model of page.models) {
    const mid = `model-${page.models.indexOf(model)}`;
    if (multi) {
      parts.push(`<h2 id="${mid}">Model ${escapeXml(model)}</h2>`);
      toc.push(`<li><a href="#${mid}">Model ${escapeXml(model)}</a></li>`);
    }
    const tables = page.tables.filter((t) => t.model === model);
    if (tables.length > 0) {
      const tid = `${mid}-tables`;
      parts.push(`<h2 id="${tid}">Tables${multi ? `: ${escapeXml(model)}` : ''}</h2>`);
      toc.push(`<li><a href="#${tid}">Tables${multi ? `: ${escapeXml(model)}` : ''}</a></li>`);
      // Narrow tables sit side by side (a flex row that wraps), wide ones take the row.
      parts.push(`<div class="tables">\n${tables.map(tableHtml).join('\n')}\n</div>`);
    }
    for (const section of CHART_SECTIONS) {
      const charts = page.charts.filter((c) => c.model === model && c.kind === section.kind);
      if (charts.length === 0) continue;
      const sid = `${mid}-${section.kind}`;
      // A heading is never repeated on the page (a table called as a chart section gets "(charts)").
      const heading = tables.some((t) => t.title === section.heading) ? `${section.heading} (charts)` : section.heading;
      parts.push(`<h2 id="${sid}">${escapeXml(heading)}${multi ? `: ${escapeXml(model)}` : ''}</h2>`);
      toc.push(`<li><a href="#${sid}">${escapeXml(heading)}${multi ? `: ${escapeXml(model)}` : ''}</a> (${charts.length})</li>`);
      // Charts fill the page's width in a grid: as many columns as fit at 70% of the charts' own width.
      const natural = Math.min(...charts.map(svgWidth));
      const min = Math.round(Math.max(320, Math.min(720, natural * 0.7)));
      parts.push(`<div class="charts${charts.length === 1 ? ' single' : ''}" style="--chart-min: ${min}px">\n${charts.map(figureHtml).join('\n')}\n</div>`);
    }
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeXml(page.title)}</h1>
<ul class="summary">
${page.summary.map((s) => `<li>${escapeXml(s)}</li>`).join('\n')}
</ul>
<nav><ul>
${toc.join('\n')}
</ul></nav>
${parts.join('\n')}
</body>
</html>
`;
}
