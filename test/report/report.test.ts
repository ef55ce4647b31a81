import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeReport } from '../../src/report/report.js';
import { methodColor } from '../../src/plot/method-colors.js';
import { findFontFiles } from '../../src/plot/find-font-files.js';
import { allElements, byClass } from '../helpers/parse-xml.js';
import { assertTextInside, parseSvg } from '../helpers/svg-checks.js';
import { syntheticRows, toJsonl } from '../helpers/synthetic-results.js';

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-report-'));
  writeFileSync(join(dir, 'results.jsonl'), toJsonl(syntheticRows()));
  return dir;
}

const EXPECTED_CHARTS = [
  // One chart per task (fidelity's score is its top-1 agreement, drawn with the fidelity charts).
  'score-vs-budget-tiny-needle',
  // Score bars per metric: 'needle' is no registry task, so its metric is the generic 'score'.
  'scores-tiny-score-b50', 'scores-tiny-score-b35', 'scores-tiny-top-1-agreement-b50', 'scores-tiny-top-1-agreement-b35',
  ...['needle', 'fidelity'].flatMap((t) => [`kv-memory-tiny-${t}`, `time-tiny-${t}-b50`, `time-tiny-${t}-b35`, `layer-kept-tiny-${t}-b50`, `layer-kept-tiny-${t}-b35`]),
  'fidelity-kl-tiny-fidelity', 'fidelity-ppl-tiny-fidelity', 'fidelity-top1-tiny-fidelity',
  'heatmap-tiny-needle-full-full',
  ...['b50', 'b35'].flatMap((b) => ['h2o', 'cam', 'kvmerger'].map((m) => `heatmap-tiny-needle-${m}-${b}`)),
];

test('tables hold the hand-computed means in the paper layout', async () => {
  const dir = runDir();
  try {
    const r = await writeReport(dir);
    assert.equal(r.rows, 7 * 15);
    const t50 = r.tables.find((t) => t.id === 'table-tiny-b50')!;
    assert.deepEqual(t50.header, ['Method', 'needle', 'fidelity', 'Average', 'Budget (achieved)', 'KV memory', 'Prefill (ms)', 'Compress (ms)', 'Decode (ms)']);
    const row = (name: string) => t50.rows.find((x) => x[0] === name)!;
    // needle: full 12/12; h2o@0.5 loses depth 50 (4 of 12) → 66.7; cam sample 0 only → 50; kvmerger 100.
    // fidelity: mean over s of 1 - loss - 0.1 s = 1 - loss - 0.1 → full 90, h2o 70, cam 60, kvmerger 80.
    assert.deepEqual(row('full (full cache)').slice(0, 4), ['full (full cache)', '100.0', '90.0', '95.00']);
    assert.deepEqual(row('h2o').slice(1, 4), ['66.7', '70.0', '68.33']);
    assert.deepEqual(row('cam').slice(1, 4), ['50.0', '60.0', '55.00']);
    assert.deepEqual(row('kvmerger').slice(1, 4), ['100.0', '80.0', '90.00']);
    // Achieved budget, memory (0.5 MiB = 512 KiB), times: prefill mean of 100+i over 12 needle (i∈{0,1}) and 3 fidelity (s∈{0,1,2}) rows.
    const prefill = ((100 * 6 + 101 * 6) + (100 + 101 + 102)) / 15;
    assert.deepEqual(row('kvmerger').slice(4), ['50.0%', '512.0 KiB', prefill.toFixed(0), '10.0', '50.0']);
    assert.deepEqual(row('full (full cache)').slice(4, 6), ['100.0%', '1.00 MiB']);
    assert.equal(row('full (full cache)')[7], '0.00');
    // Methods in the canonical order with the reference on top.
    assert.deepEqual(t50.rows.map((x) => x[0]), ['full (full cache)', 'h2o', 'cam', 'kvmerger']);
    const t35 = r.tables.find((t) => t.id === 'table-tiny-b35')!;
    const row35 = (name: string) => t35.rows.find((x) => x[0] === name)!;
    // needle@0.35: kvmerger 6/12 = 50; h2o: L=256 and sample 0 → 3/12 = 25; cam 0.
    // fidelity@0.35: 1 - 2 loss - 0.1 → kvmerger 70, h2o 50, cam 30.
    assert.deepEqual(row35('kvmerger').slice(1, 4), ['50.0', '70.0', '60.00']);
    assert.deepEqual(row35('h2o').slice(1, 4), ['25.0', '50.0', '37.50']);
    assert.deepEqual(row35('cam').slice(1, 4), ['0.0', '30.0', '15.00']);
    assert.equal(row35('kvmerger')[5], '358.4 KiB');
    assert.match(t35.caption, /needle n = 12, fidelity n = 3/);
    // Fidelity table: KL = loss (×2 at 35%) + mean(0, .01, .02).
    const fid = r.tables.find((t) => t.kind === 'fidelity')!;
    const f = (m: string, b: string) => fid.rows.find((x) => x[0] === m && x[1] === b)!;
    assert.deepEqual(f('kvmerger', '35%').slice(2), ['0.2100', '0.400', '70.0%', '3']);
    assert.deepEqual(f('full', 'full cache').slice(2), ['0.0100', '0.000', '90.0%', '3']);
    // report.md carries the tables as markdown.
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    assert.ok(md.includes('| kvmerger | 100.0 | 80.0 | 90.00 | 50.0% | 512.0 KiB |'), md.slice(0, 2000));
    assert.ok(md.includes('| Method | needle | fidelity | Average |'));
    assert.ok(md.includes('![kvmerger · 35% KV budget · needle](charts/heatmap-tiny-needle-kvmerger-b35.svg)'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every chart exists, is well-formed SVG with the expected cells and series, colours stable per method', async () => {
  const dir = runDir();
  try {
    const r = await writeReport(dir);
    const files = readdirSync(join(dir, 'charts')).filter((f) => f.endsWith('.svg')).map((f) => f.replace(/\.svg$/, ''));
    assert.deepEqual(files.sort(), [...EXPECTED_CHARTS].sort());
    assert.equal(r.charts.length, EXPECTED_CHARTS.length);
    const colours = new Map<string, Set<string>>();
    for (const name of files) {
      const root = parseSvg(readFileSync(join(dir, 'charts', `${name}.svg`), 'utf8'));
      assertTextInside(root);
      for (const e of allElements(root)) {
        const s = e.attrs['data-series'];
        if (!s) continue;
        const c = e.attrs.fill && e.attrs.fill !== 'none' ? e.attrs.fill : e.attrs.stroke;
        if (!c) continue;
        const base = s.replace(/ \(.*\)$/, '');
        if (!colours.has(base)) colours.set(base, new Set());
        colours.get(base)!.add(c);
      }
      if (name.startsWith('heatmap-')) assert.equal(byClass(root, 'cell').length, 6, name);
    }
    for (const m of ['full', 'h2o', 'cam', 'kvmerger']) assert.deepEqual([...colours.get(m)!], [methodColor(m)], m);
    // Series counts: score against budget has 3 compressed lines and the full cache as a dashed reference.
    const sb = parseSvg(readFileSync(join(dir, 'charts', 'score-vs-budget-tiny-needle.svg'), 'utf8'));
    assert.equal(byClass(sb, 'line').length, 3);
    assert.equal(byClass(sb, 'reference').length, 1);
    // Scores at 50%, one chart per metric: 4 methods × the needle task (no average across tasks of other metrics).
    const bars = parseSvg(readFileSync(join(dir, 'charts', 'scores-tiny-score-b50.svg'), 'utf8'));
    assert.deepEqual(byClass(bars, 'bar').map((b) => b.attrs['data-value']), ['100', '66.67', '50', '100']);
    // Heatmap values: kvmerger@35% is 1 for sample 0 and 0 for sample 1 → 0.5 in every cell.
    const hm = parseSvg(readFileSync(join(dir, 'charts', 'heatmap-tiny-needle-kvmerger-b35.svg'), 'utf8'));
    assert.deepEqual(byClass(hm, 'cell').map((c) => c.attrs['data-value']), ['0.5', '0.5', '0.5', '0.5', '0.5', '0.5']);
    // h2o@50%: rows are depths (0, 50, 100), columns lengths: the depth-50 row is 0.
    const h2o = parseSvg(readFileSync(join(dir, 'charts', 'heatmap-tiny-needle-h2o-b50.svg'), 'utf8'));
    assert.deepEqual(byClass(h2o, 'cell').map((c) => c.attrs['data-value']), ['1', '1', '0', '0', '1', '1']);
    // Kept ratio per layer: kvmerger@50% keeps 50, 25, 75% of the full cache's slots in layers 0, 1, 2.
    const lk = parseSvg(readFileSync(join(dir, 'charts', 'layer-kept-tiny-needle-b50.svg'), 'utf8'));
    assert.equal(byClass(lk, 'band').length, 3);
    const kvPoints = byClass(lk, 'point').filter((p) => p.attrs['data-series'] === 'kvmerger').map((p) => Number(p.attrs.cy ?? p.attrs['data-cy']));
    assert.equal(kvPoints.length, 3);
    // Equal steps in y: (50 → 25) and (25 → 75) differ by -25 and +50 percentage points.
    const d1 = kvPoints[1]! - kvPoints[0]!;
    const d2 = kvPoints[2]! - kvPoints[1]!;
    assert.ok(Math.abs(d2 / d1 + 2) < 0.02, `${kvPoints}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('index.html is self-contained: every table and chart inline, unique ids, no external assets', async () => {
  const dir = runDir();
  try {
    const r = await writeReport(dir);
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    assert.equal((html.match(/<svg /g) ?? []).length, EXPECTED_CHARTS.length);
    for (const t of r.tables) assert.ok(html.includes(`id="${t.id}"`), t.id);
    assert.equal((html.match(/<table>/g) ?? []).length, r.tables.length);
    const ids = [...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(new Set(ids).size, ids.length, 'duplicate ids');
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'external reference');
    assert.ok(!/<link /.test(html) && !/<script/.test(html));
    for (const svg of html.match(/<svg [\s\S]*?<\/svg>/g)!) parseSvg(svg);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run in progress: cut-off last line, a missing cell; stale charts removed', async () => {
  const dir = runDir();
  try {
    const rows = syntheticRows().filter((x) => !(x.method === 'cam' && x.budgetRequested === 0.35 && x.task === 'fidelity'));
    writeFileSync(join(dir, 'results.jsonl'), toJsonl(rows));
    appendFileSync(join(dir, 'results.jsonl'), '{"model":"tiny","task":"needle","sam');
    writeFileSync(join(dir, 'charts-placeholder'), '');
    await writeReport(dir);
    writeFileSync(join(dir, 'results.jsonl'), toJsonl(rows.filter((x) => x.method !== 'cam')));
    const r = await writeReport(dir);
    assert.ok(!existsSync(join(dir, 'charts', 'heatmap-tiny-needle-cam-b50.svg')));
    assert.ok(existsSync(join(dir, 'charts', 'heatmap-tiny-needle-kvmerger-b50.svg')));
    assert.equal(r.skipped.length, 0);
    // Back to the partial file: cam@35% has needle only; its average is marked.
    writeFileSync(join(dir, 'results.jsonl'), toJsonl(rows) + '{"model":"tiny","ta');
    const p = await writeReport(dir);
    assert.equal(p.skipped.length, 1);
    const t35 = p.tables.find((t) => t.id === 'table-tiny-b35')!;
    const cam = t35.rows.find((x) => x[0] === 'cam')!;
    assert.deepEqual(cam.slice(1, 4), ['0.0', '—', '0.00*']);
    assert.match(t35.caption, /\* averaged over the tasks/);
    assert.match(readFileSync(join(dir, 'report.md'), 'utf8'), /1 line\(s\) skipped \(line \d+: incomplete last line/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI writes PNGs and a JSON summary; bad folders are user errors', { skip: findFontFiles().files.length === 0 ? 'no fonts' : false }, () => {
  const dir = runDir();
  try {
    const cli = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'report', ...args], { encoding: 'utf8' });
    const ok = cli([dir, '--png', '--png-scale', '1', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const j = JSON.parse(ok.stdout) as { rows: number; charts: string[]; tables: { id: string }[] };
    assert.equal(j.rows, 105);
    assert.equal(j.charts.length, 2 * EXPECTED_CHARTS.length);
    for (const c of j.charts.filter((x) => x.endsWith('.png'))) {
      const png = readFileSync(join(dir, c));
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], c);
    }
    const bad = cli([join(dir, 'nope')]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no such folder/);
    const empty = mkdtempSync(join(tmpdir(), 'kvmerger-report-empty-'));
    const none = cli([empty]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /results\.jsonl: no such file/);
    rmSync(empty, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
