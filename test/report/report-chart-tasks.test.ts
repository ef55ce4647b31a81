import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReportRows } from '../../src/report/read-report-rows.js';
import { summarizeResults } from '../../src/report/summarize-results.js';
import { buildReportCharts } from '../../src/report/report-charts.js';
import { allElements, byClass, type XmlElement } from '../helpers/parse-xml.js';
import { parseSvg } from '../helpers/svg-checks.js';

/**
 * Four tasks whose numbers differ in every field the charts read, so that any pooling of two tasks into one point
 * shows as a value that no single task has. h2o at 0.5 and 0.35, the full cache once per sample, 2 samples each.
 * fidelity: top-1 0.9, KL 0.01, ppl +0.1; ppl-stream: top-1 0.5, KL 0.5, ppl +2 (pooled: 70, 0.255, 1.05).
 * passkey: score 1; ruler-vt: score 0 (pooled: 50). kvBytes 100 / 300 / 500 / 700 (× budget for h2o), prefillMs
 * 10 / 30 / 50 / 70, slotsPerLayer at h2o: [1, 2] × 10, 30, 50, 70 of promptTokens 100.
 */
function rows(): string {
  const tasks = [
    { task: 'fidelity', k: 1, fid: { top1Agreement: 0.9, klDivergence: 0.01, pplIncrease: 0.1 } },
    { task: 'ppl-stream', k: 3, fid: { top1Agreement: 0.5, klDivergence: 0.5, pplIncrease: 2 } },
    { task: 'passkey', k: 5, score: 1 },
    { task: 'ruler-vt', k: 7, score: 0 },
  ];
  const out: object[] = [];
  for (const t of tasks) {
    for (const [method, b] of [['full', null], ['h2o', 0.5], ['h2o', 0.35]] as const) {
      for (const sample of ['a', 'b']) {
        const isFull = b === null;
        const fid = t.fid && (isFull ? { top1Agreement: 1, klDivergence: 0, pplIncrease: 0 } : t.fid);
        out.push({
          model: 'm',
          task: t.task,
          sample,
          method,
          budgetRequested: b,
          budgetAchieved: b ?? 1,
          score: fid ? fid.top1Agreement : t.score,
          ...fid,
          kvBytes: 100 * t.k * (b ?? 1),
          prefillMs: 10 * t.k,
          compressMs: isFull ? 0 : t.k,
          decodeMs: 2 * t.k,
          promptTokens: 100,
          slotsPerLayer: isFull ? [100, 100] : [10 * t.k, 20 * t.k],
        });
      }
    }
  }
  return out.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

const values = (svg: XmlElement, cls: 'point' | 'bar', series = 'h2o'): number[] =>
  byClass(svg, cls).filter((e) => e.attrs['data-series'] === series).map((e) => Number(e.attrs['data-value']));
const axisLabels = (svg: XmlElement): string[] => allElements(svg).filter((e) => e.attrs.class === 'axis-label').map((e) => e.text);

test('report charts keep each task apart: no point or bar is a mean over rows of two tasks', () => {
  const charts = buildReportCharts(summarizeResults(parseReportRows(rows()).rows));
  const svg = new Map(charts.map((c) => [c.name, parseSvg(c.svg)]));
  const get = (name: string): XmlElement => {
    const s = svg.get(name);
    assert.ok(s, `${name} missing; charts: ${[...svg.keys()].join(', ')}`);
    return s;
  };
  // Fidelity charts: one per task and metric, each with that task's own numbers at both budgets.
  assert.deepEqual(values(get('fidelity-top1-m-fidelity'), 'point'), [90, 90]);
  assert.deepEqual(values(get('fidelity-top1-m-ppl-stream'), 'point'), [50, 50]);
  assert.deepEqual(values(get('fidelity-kl-m-fidelity'), 'point'), [0.01, 0.01]);
  assert.deepEqual(values(get('fidelity-kl-m-ppl-stream'), 'point'), [0.5, 0.5]);
  assert.deepEqual(values(get('fidelity-ppl-m-ppl-stream'), 'point'), [2, 2]);
  assert.match(axisLabels(get('fidelity-top1-m-ppl-stream')).join('|'), /top-1 agreement with the full cache \(%\)/);
  assert.match(axisLabels(get('fidelity-kl-m-fidelity')).join('|'), /KL\(p_full ‖ p_compressed\) \(nats per token\)/);
  // Score against budget: one per generation task, the metric on the axis, no cross-task average chart.
  assert.deepEqual(values(get('score-vs-budget-m-passkey'), 'point'), [100, 100]);
  assert.deepEqual(values(get('score-vs-budget-m-ruler-vt'), 'point'), [0, 0]);
  assert.match(axisLabels(get('score-vs-budget-m-passkey')).join('|'), /answer found \(%\)/);
  assert.match(axisLabels(get('score-vs-budget-m-ruler-vt')).join('|'), /string match \(%\)/);
  assert.ok(![...svg.keys()].some((n) => n.includes('average')), 'no average over tasks of different metrics');
  // Score bars: one chart per metric, a group per task of that metric.
  assert.deepEqual(values(get('scores-m-answer-found-b50'), 'bar'), [100]);
  assert.deepEqual(values(get('scores-m-string-match-b35'), 'bar'), [0]);
  assert.deepEqual(values(get('scores-m-top-1-agreement-b50'), 'bar'), [90, 50]);
  // Memory and time per task: kvBytes 100 k b, prefill 10 k.
  assert.deepEqual(values(get('kv-memory-m-fidelity'), 'bar'), [50, 35]);
  assert.deepEqual(values(get('kv-memory-m-ruler-vt'), 'bar'), [350, 245]);
  assert.deepEqual(values(get('kv-memory-m-ruler-vt'), 'bar', 'full'), [700]);
  assert.deepEqual(values(get('time-m-ppl-stream-b50'), 'bar'), [30, 3, 6]);
  assert.deepEqual(values(get('time-m-passkey-b35'), 'bar'), [50, 5, 10]);
  // Kept slots per layer: h2o keeps 10k and 20k of the full cache's 100 slots in layers 0 and 1.
  assert.deepEqual(values(get('layer-kept-m-fidelity-b50'), 'point'), [10, 20]);
  assert.deepEqual(values(get('layer-kept-m-ruler-vt-b35'), 'point'), [70, 140]);
  // Every chart is one task's (or one metric's tasks'): nothing else is drawn.
  const tasks = ['fidelity', 'ppl-stream', 'passkey', 'ruler-vt'];
  const expected = [
    ...['fidelity', 'ppl-stream'].flatMap((t) => ['kl', 'ppl', 'top1'].map((f) => `fidelity-${f}-m-${t}`)),
    'score-vs-budget-m-passkey', 'score-vs-budget-m-ruler-vt',
    ...['answer-found', 'string-match', 'top-1-agreement'].flatMap((x) => [`scores-m-${x}-b50`, `scores-m-${x}-b35`]),
    ...tasks.flatMap((t) => [`kv-memory-m-${t}`, `time-m-${t}-b50`, `time-m-${t}-b35`, `layer-kept-m-${t}-b50`, `layer-kept-m-${t}-b35`]),
  ];
  assert.deepEqual([...svg.keys()].sort(), expected.sort());
});

test("a key only some tasks' rows carry (chatTemplate) splits a method only where one task has two values", () => {
  const row = (task: string, sample: string, options: Record<string, unknown>) =>
    JSON.stringify({ model: 'm', task, sample, method: 'h2o', options, budgetRequested: 0.5, score: 1 });
  const mixed = [row('longbench-qasper', 'a', { recent: 1, chatTemplate: 'applied' }), row('passkey', 'a', { recent: 1 })].join('\n');
  const s1 = summarizeResults(parseReportRows(mixed).rows);
  assert.deepEqual([...s1.labelOf.values()], ['h2o', 'h2o']);
  const both = [mixed, row('longbench-qasper', 'a', { recent: 1, chatTemplate: 'none' })].join('\n');
  const s2 = summarizeResults(parseReportRows(both).rows);
  assert.deepEqual([...s2.labelOf.values()].sort(), ['h2o', 'h2o (chatTemplate=applied)', 'h2o (chatTemplate=none)']);
  // An option that differs between tasks where every row has it still splits, as before.
  const s3 = summarizeResults(parseReportRows([row('passkey', 'a', { recent: 1 }), row('niah', 'a', { recent: 2 })].join('\n')).rows);
  assert.deepEqual([...s3.labelOf.values()].sort(), ['h2o (recent=1)', 'h2o (recent=2)']);
});
