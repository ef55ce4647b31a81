import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heatmapChart } from '../../src/plot/heatmap-chart.js';
import { parseHex, scoreColorScale } from '../../src/plot/color-scale.js';
import { byClass } from '../helpers/parse-xml.js';
import { assertTextInside, parseSvg } from '../helpers/svg-checks.js';

const xValues = [1000, 2000, 4000];
const yValues = [0, 25, 50, 75, 100];

test('one coloured cell per (length, depth) with data, grey for the rest', () => {
  const cells = xValues.flatMap((x, i) => yValues.map((y, j) => ({ x, y, value: (i + j) / 6, n: 3 }))).slice(1);
  const svg = heatmapChart({
    title: 'kvmerger at 50%: needle', xValues, yValues, cells,
    xLabel: 'context length (tokens)', yLabel: 'needle depth (%)', valueLabel: 'score', series: 'kvmerger',
  });
  const root = parseSvg(svg);
  const drawn = byClass(root, 'cell');
  assert.equal(drawn.length, 14);
  assert.equal(byClass(root, 'cell-empty').length, 1);
  // Cell colours follow the red → green scale: value 0 is red, the largest green-ish.
  const scale = scoreColorScale();
  // data-value is rounded to 2 decimals, so compare colours channel by channel within a step.
  for (const c of drawn) {
    const want = parseHex(scale.hex(Number(c.attrs['data-value'])));
    const got = parseHex(c.attrs.fill!);
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(want[k]! - got[k]!) <= 3, `${c.attrs.fill} vs ${scale.hex(Number(c.attrs['data-value']))}`);
  }
  assert.equal(scale.hex(0), '#f0496e');
  assert.equal(scale.hex(1), '#0cd79f');
  assert.equal(scale.hex(0.5), '#ebb839');
  assert.equal(byClass(root, 'color-bar').length, 1);
  assertTextInside(root);
  // The cells' mean values are written inside the cells.
  assert.ok(svg.includes('>0.17<'));
});

test('long titles widen the canvas instead of being clipped', () => {
  const svg = heatmapChart({
    title: 'A very long title that names the model, the task, the method, the budget and the haystack in one line',
    xValues, yValues, cells: [], xLabel: 'context length (tokens)', yLabel: 'needle depth (%)', valueLabel: 'score',
  });
  assertTextInside(parseSvg(svg));
});
