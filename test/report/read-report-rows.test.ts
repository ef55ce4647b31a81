import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReportRows } from '../../src/report/read-report-rows.js';

test('tolerates a cut-off last line, bad lines and missing fields; later duplicates win', () => {
  const text = [
    JSON.stringify({ model: 'm', task: 't', sample: 1, method: 'h2o', budgetRequested: 0.5, score: 0 }),
    'not json',
    JSON.stringify({ task: 't', method: 'h2o' }),
    JSON.stringify({ model: 'm', task: 't', sample: 2, method: 'h2o', budgetRequested: 0.5, score: 1, slotsPerLayer: [[2, 4], [6, 8]] }),
    JSON.stringify({ model: 'm', task: 't', sample: 1, method: 'h2o', budgetRequested: 0.5, score: 0.75 }),
    '{"model":"m","task":"t","sam',
  ].join('\n');
  const r = parseReportRows(text);
  assert.equal(r.rows.length, 2);
  assert.equal(r.duplicates, 1);
  assert.deepEqual(r.skipped.map((s) => s.line), [2, 3, 6]);
  assert.match(r.skipped[2]!.reason, /incomplete last line/);
  assert.match(r.skipped[1]!.reason, /missing model/);
  const s1 = r.rows.find((x) => x.sample === '1')!;
  assert.equal(s1.score, 0.75);
  assert.equal(s1.kvBytes, null);
  assert.equal(s1.depth, null);
  const s2 = r.rows.find((x) => x.sample === '2')!;
  assert.deepEqual(s2.slotsPerLayer, [3, 7]); // per-head slots averaged per layer
});

test('task numbers nested under metrics or meta, and meanKL as an alias of klDivergence', () => {
  const r = parseReportRows(JSON.stringify({ model: 'm', task: 'fidelity', method: 'h2o', metrics: { meanKL: 0.25, top1Agreement: 0.8 }, meta: { depth: 40 }, contextLength: 512 }));
  const row = r.rows[0]!;
  assert.equal(row.klDivergence, 0.25);
  assert.equal(row.top1Agreement, 0.8);
  assert.equal(row.depth, 40);
  assert.equal(row.contextLength, 512);
  assert.equal(row.pplIncrease, null);
});
