import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rasterizeSvg } from '../../src/plot/rasterize-svg.js';
import { findFontFiles } from '../../src/plot/find-font-files.js';
import { heatmapChart } from '../../src/plot/heatmap-chart.js';
import { parseHex, scoreColorScale } from '../../src/plot/color-scale.js';
import { decodePng } from '../helpers/decode-png.js';

const fonts = findFontFiles();

test('renders a chart to a PNG twice the SVG size, with its cells and its text', { skip: fonts.files.length === 0 ? 'no font files on this machine' : false }, async () => {
  const svg = heatmapChart({ title: 'Needle heatmap', xValues: [1, 2], yValues: [0, 50], cells: [{ x: 1, y: 0, value: 1 }], xLabel: 'length (tokens)', yLabel: 'depth (%)', valueLabel: 'score' });
  const w = Number(/width="([\d.]+)"/.exec(svg)![1]);
  const h = Number(/height="([\d.]+)"/.exec(svg)![1]);
  const png = decodePng(await rasterizeSvg(svg));
  assert.equal(png.width, Math.round(w * 2));
  assert.equal(png.height, Math.round(h * 2));
  const pixel = (x: number, y: number): number[] => [...png.rgba.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
  const count = (x0: number, y0: number, x1: number, y1: number, is: (p: number[]) => boolean): number => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (is(pixel(x, y))) n++;
    return n;
  };
  // The one cell with data is drawn in the scale's top colour; the three others in the no-data grey.
  const top = parseHex(scoreColorScale([0, 1]).hex(1));
  const near = (c: number[]) => (p: number[]) => p.every((v, i) => Math.abs(v - c[i]!) <= 2);
  assert.ok(count(0, 0, png.width, png.height, near(top)) > 1000, 'the cell with data in the scale colour');
  assert.ok(count(0, 0, png.width, png.height, near([217, 217, 217])) > 3000, 'the cells without data in grey');
  // The title (dark text in the top band) was drawn: the rasteriser found a font.
  assert.ok(count(0, 0, png.width, 80, (p) => p.every((v) => v < 100)) > 200, 'title text drawn');
});

test('no font files is a user error naming the fix', async () => {
  await assert.rejects(rasterizeSvg('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', { fonts: { files: [], defaultFamily: 'x' } }), /KVMERGER_FONT/);
});

test('KVMERGER_FONT overrides the search', () => {
  const f = fonts.files[0];
  if (f === undefined) return;
  assert.deepEqual(findFontFiles({ KVMERGER_FONT: f }).files, [f]);
});
