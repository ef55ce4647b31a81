import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { similarityMatrixChart } from '../../src/plot/similarity-matrix-chart.js';
import { divergingColorScale } from '../../src/plot/color-scale.js';
import { allElements, byClass } from '../helpers/parse-xml.js';
import { assertTextInside, parseSvg } from '../helpers/svg-checks.js';

test('small matrices are drawn cell by cell on the diverging scale', () => {
  const n = 6;
  const values = Float32Array.from({ length: n * n }, (_, k) => (k % 7) / 3 - 1);
  const root = parseSvg(similarityMatrixChart({ title: 'keys, layer 0 head 0', size: n, values }));
  const cells = byClass(root, 'cell');
  assert.equal(cells.length, n * n);
  const scale = divergingColorScale();
  assert.equal(cells[0]!.attrs.fill, scale.hex(-1));
  assert.equal(scale.hex(-1), '#2166ac');
  assert.equal(scale.hex(0), '#f7f7f7');
  assert.equal(scale.hex(1), '#b2182b');
  assertTextInside(root);
});

test('a 1000 × 1000 matrix becomes one embedded palette PNG and a small file', () => {
  const n = 1000;
  const values = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) values[i * n + j] = Math.exp(-Math.abs(i - j) / 20) * 2 - 1;
  const svg = similarityMatrixChart({ title: 'keys', size: n, values });
  assert.ok(svg.length < 600_000, `SVG is ${svg.length} bytes`);
  const root = parseSvg(svg);
  assert.equal(byClass(root, 'cell').length, 0);
  const images = allElements(root).filter((e) => e.name === 'image');
  assert.equal(images.length, 1);
  const href = images[0]!.attrs['xlink:href']!;
  const png = Buffer.from(href.replace('data:image/png;base64,', ''), 'base64');
  // Downsampled to 500 × 500 (block means of 2 × 2), palette-coded.
  assert.equal(png.readUInt32BE(16), 500);
  assert.equal(png.readUInt32BE(20), 500);
  assert.equal(png[25], 3);
  // The first pixel (block mean of (0,0),(0,1),(1,0),(1,1)) on the palette's 255-step scale.
  const idat = png.indexOf('IDAT');
  const len = png.readUInt32BE(idat - 4);
  const raw = inflateSync(png.subarray(idat + 4, idat + 4 + len));
  const e = Math.exp(-1 / 20);
  const mean = (2 * 1 + 2 * e) / 4 * 2 - 1;
  assert.equal(raw[1], Math.round(((mean + 1) / 2) * 254));
  assertTextInside(root);
});

test('bad sizes are refused', () => {
  assert.throws(() => similarityMatrixChart({ title: 'x', size: 3, values: new Float32Array(8) }), /3 × 3/);
});
