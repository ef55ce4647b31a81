import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupedBarChart } from '../../src/plot/grouped-bar-chart.js';
import { methodColor } from '../../src/plot/method-colors.js';
import { byClass } from '../helpers/parse-xml.js';
import { assertTextInside, parseSvg, seriesColors } from '../helpers/svg-checks.js';

test('bars per group and series, none for missing values, long group names rotated inside the canvas', () => {
  const svg = groupedBarChart({
    title: 'Scores at 35%', xLabel: 'task', yLabel: 'score (×100)',
    groups: ['needle', 'a-very-long-task-name-that-cannot-fit', 'average'],
    series: [
      { name: 'h2o', values: [10, null, 20], errors: [1, null, 0] },
      { name: 'cam', values: [12, 14, 16] },
      { name: 'kvmerger', values: [30, 40, 50] },
    ],
  });
  const root = parseSvg(svg);
  const bars = byClass(root, 'bar');
  assert.equal(bars.length, 8);
  assert.equal(byClass(root, 'error-bar').length, 1);
  for (const m of ['h2o', 'cam', 'kvmerger']) assert.deepEqual([...seriesColors(root, m)], [methodColor(m)]);
  // Bar heights are proportional to values: kvmerger's 50 is 5/3 of its 30.
  const kv = bars.filter((b) => b.attrs['data-series'] === 'kvmerger').map((b) => Number(b.attrs.height));
  assert.ok(Math.abs(kv[2]! / kv[0]! - 5 / 3) < 0.02);
  assert.ok(svg.includes('rotate(-35'));
  assertTextInside(root);
});
