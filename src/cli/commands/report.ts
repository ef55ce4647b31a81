/** `kvmerger report DIR [--png] [--json]`: tables, charts and an HTML page rebuilt from DIR/results.jsonl. */
import { KvError } from '../../util/errors.js';
import { OUTPUT_OPTIONS, OUT_OPTION, numberOption, parseOptions, type OptionTable } from '../options.js';

export const summary = 'rebuild tables, charts and index.html of an eval run from its results.jsonl';

export const help = `Usage: kvmerger report DIR [--png] [--png-scale N] [--json]

Reads DIR/results.jsonl (the rows 'kvmerger eval --out DIR' appends; a run still in progress is
fine) and writes:
  DIR/report.md     markdown tables in the paper's layout (one per budget: methods × tasks, average,
                    achieved budget, KV memory, prefill/compress/decode time; means over samples)
                    and links to the charts
  DIR/charts/*.svg  needle heatmaps (context length × depth per method and budget), score against
                    budget, scores per task, kept slots per layer, KV memory, time, fidelity against
                    budget
  DIR/index.html    one self-contained page with every table and chart (opens from file://, no
                    network)

Options:
  -o, --out DIR     the folder, instead of the DIR argument
  --png             also write charts/*.png (rendered with @resvg/resvg-js; needs a font: DejaVu
                    Sans from /usr/share/fonts, or set KVMERGER_FONT=/path/to/font.ttf)
  --png-scale N     PNG pixels per SVG pixel, in (0, 8] (default 2)
  --json            print a machine-readable summary (tables with their numbers, chart paths)
  -q, --quiet       nothing on stderr but errors`;

const OPTIONS = { ...OUT_OPTION, png: { type: 'boolean' }, 'png-scale': { type: 'string' }, ...OUTPUT_OPTIONS } as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('report', argv, OPTIONS, { positionals: 'any' });
  const dirs = values.out !== undefined ? [values.out, ...positionals] : positionals;
  if (dirs.length !== 1) {
    throw new KvError(`report: expected one folder (the --out of an eval run), got ${dirs.length}; usage: kvmerger report DIR [--png] [--json]`);
  }
  const pngScale = numberOption('png-scale', values['png-scale'], { min: 0, minExclusive: true, max: 8 });
  const { writeReport } = await import('../../report/report.js');
  const r = await writeReport(dirs[0]!, { png: values.png ?? false, pngScale });
  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          dir: r.dir,
          rows: r.rows,
          skipped: r.skipped,
          duplicates: r.duplicates,
          models: r.models,
          versions: r.versions,
          warnings: r.warnings,
          reportMd: r.reportMd,
          indexHtml: r.indexHtml,
          charts: r.charts,
          tables: r.tables.map((t) => ({ id: t.id, model: t.model, kind: t.kind, title: t.title, caption: t.caption, header: t.header, rows: t.rows, data: t.data })),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const lines = [
    `report: ${r.rows} rows → ${r.tables.length} table(s), ${r.charts.length} chart file(s)`,
    ...(r.skipped.length ? [`  ${r.skipped.length} line(s) skipped (first: line ${r.skipped[0]!.line}: ${r.skipped[0]!.reason})`] : []),
    ...r.warnings.map((w) => `  note: ${w}`),
    `  ${r.reportMd}`,
    `  ${r.indexHtml}`,
    `  ${r.dir.replace(/\/$/, '')}/charts/`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
