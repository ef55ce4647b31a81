/**
 * Checks shared by chart tests: well-formed XML with an <svg> root, every text's estimated box inside the canvas
 * (nothing clipped), and the colour each data-series is drawn with.
 */
import assert from 'node:assert/strict';
import { textWidth } from '../../src/plot/text-width.js';
import { allElements, parseXml, type XmlElement } from './parse-xml.js';

export function parseSvg(svg: string): XmlElement {
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  return root;
}

/** Asserts every <text> lies inside the canvas, by the same width estimate the layout uses (rotation included). */
export function assertTextInside(root: XmlElement): void {
  const width = Number(root.attrs.width);
  const height = Number(root.attrs.height);
  for (const t of allElements(root).filter((e) => e.name === 'text')) {
    const x = Number(t.attrs.x);
    const y = Number(t.attrs.y);
    const size = Number(t.attrs['font-size'] ?? 12);
    const w = textWidth(t.text, size);
    const anchor = t.attrs['text-anchor'] ?? 'start';
    const before = anchor === 'end' ? w : anchor === 'middle' ? w / 2 : 0;
    const after = w - before;
    const rot = /rotate\((-?[\d.]+)/.exec(t.attrs.transform ?? '');
    const deg = rot ? Number(rot[1]) : 0;
    const rad = (deg * Math.PI) / 180;
    // Extent of the baseline segment [-before, after] rotated about (x, y), padded by the font's height.
    const xs = [x - before * Math.cos(rad), x + after * Math.cos(rad)];
    const ys = [y - before * Math.sin(rad), y + after * Math.sin(rad)];
    const pad = size;
    const where = `text '${t.text}' (x=${x}, y=${y}, ${deg}°) in ${width}x${height}`;
    assert.ok(Math.min(...xs) >= -1 && Math.max(...xs) <= width + 1, `clipped horizontally: ${where}`);
    assert.ok(Math.min(...ys) - pad * 0.8 >= -1 && Math.max(...ys) + pad * 0.3 <= height + 1, `clipped vertically: ${where}`);
  }
}

/** The set of colours (fill or stroke) used by elements carrying data-series=name. */
export function seriesColors(root: XmlElement, name: string): Set<string> {
  const colours = new Set<string>();
  for (const e of allElements(root)) {
    if (e.attrs['data-series'] !== name) continue;
    const c = e.attrs.fill && e.attrs.fill !== 'none' ? e.attrs.fill : e.attrs.stroke;
    if (c) colours.add(c);
  }
  return colours;
}
