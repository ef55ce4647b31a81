import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineChart } from '../../src/plot/line-chart.js';
import { methodColor } from '../../src/plot/method-colors.js';
import { byClass } from '../helpers/parse-xml.js';
import { assertTextInside, parseSvg, seriesColors } from '../helpers/svg-checks.js';

test('one line per series, error bars, a dashed reference, stable colours', () => {
  const svg = lineChart({
    title: 'Score against budget', xLabel: 'KV budget (%)', yLabel: 'score',
    series: ['h2o', 'kvmerger', 'someday'].map((name) => ({ name, points: [35, 50].map((x) => ({ x, y: x / 100, lo: x / 100 - 0.1, hi: x / 100 + 0.1 })) })),
    referenceLines: [{ name: 'full', y: 0.9 }],
    xTicks: [35, 50],
    yDomain: [0, 1],
  });
  const root = parseSvg(svg);
  assert.equal(byClass(root, 'line').length, 3);
  assert.equal(byClass(root, 'error-bar').length, 6);
  assert.equal(byClass(root, 'point').length, 6);
  assert.equal(byClass(root, 'reference').length, 1);
  for (const m of ['h2o', 'kvmerger', 'someday', 'full']) assert.deepEqual([...seriesColors(root, m)], [methodColor(m)]);
  assertTextInside(root);
});

test('bands instead of error bars; the x axis ends at the last point', () => {
  const svg = lineChart({
    title: 'Kept ratio per layer', xLabel: 'layer', yLabel: 'kept (%)', spread: 'band',
    series: [{ name: 'kvmerger', points: Array.from({ length: 32 }, (_, l) => ({ x: l, y: 50, lo: 40, hi: 60 })) }],
  });
  const root = parseSvg(svg);
  assert.equal(byClass(root, 'band').length, 1);
  assert.equal(byClass(root, 'error-bar').length, 0);
  const ticks = byClass(root, 'tick').filter((t) => t.attrs['text-anchor'] === 'middle').map((t) => t.text);
  assert.ok(ticks.includes('30') && !ticks.includes('40'), `x ticks ${ticks.join(',')}`);
});
