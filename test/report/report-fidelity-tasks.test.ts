import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReportRows } from '../../src/report/read-report-rows.js';
import { summarizeResults } from '../../src/report/summarize-results.js';
import { buildReportTables } from '../../src/report/report-tables.js';

test('the fidelity table keeps teacher-forced fidelity and ppl-stream rows apart', () => {
  const row = (task: string, sample: string, kl: number) =>
    JSON.stringify({ model: 'm', task, sample, method: 'h2o', budgetRequested: 0.5, budgetAchieved: 0.5, score: 1, klDivergence: kl, pplIncrease: 0.1, top1Agreement: 0.9 });
  const text = [row('fidelity', 'a', 0.01), row('fidelity', 'b', 0.03), row('ppl-stream', 'a', 0.5)].join('\n') + '\n';
  const tables = buildReportTables(summarizeResults(parseReportRows(text).rows));
  const fid = tables.find((t) => t.kind === 'fidelity')!;
  assert.deepEqual(fid.header.slice(0, 3), ['Method', 'Task', 'Budget']);
  const byTask = Object.fromEntries(fid.rows.map((r) => [r[1], r]));
  assert.equal(byTask['fidelity']![3], '0.0200', 'mean of the two fidelity samples only');
  assert.equal(byTask['fidelity']![6], '2');
  assert.equal(byTask['ppl-stream']![3], '0.5000');
  assert.equal(byTask['ppl-stream']![6], '1');
});
