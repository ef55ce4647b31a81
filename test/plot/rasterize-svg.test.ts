import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rasterizeSvg } from '../../src/plot/rasterize-svg.js';
import { findFontFiles } from '../../src/plot/find-font-files.js';
import { heatmapChart } from '../../src/plot/heatmap-chart.js';

const fonts = findFontFiles();

test('renders a chart to a PNG twice the SVG size', { skip: fonts.files.length === 0 ? 'no font files on this machine' : false }, async () => {
  const svg = heatmapChart({ title: 't', xValues: [1, 2], yValues: [0, 50], cells: [{ x: 1, y: 0, value: 1 }], xLabel: 'length (tokens)', yLabel: 'depth (%)', valueLabel: 'score' });
  const w = Number(/width="([\d.]+)"/.exec(svg)![1]);
  const png = await rasterizeSvg(svg);
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
  assert.equal(Buffer.from(png).readUInt32BE(16), Math.round(w * 2));
});

test('no font files is a user error naming the fix', async () => {
  await assert.rejects(rasterizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', { fonts: { files: [], defaultFamily: 'x' } }), /KVMERGER_FONT/);
});

test('KVMERGER_FONT overrides the search', () => {
  const f = fonts.files[0];
  if (f === undefined) return;
  assert.deepEqual(findFontFiles({ KVMERGER_FONT: f }).files, [f]);
});
