/**
 * A token × token similarity map (the paper's Figure 2): values in [-1, 1] on a diverging blue-white-red scale,
 * with a colour bar. Small matrices are drawn as rectangles; larger ones as one embedded PNG (palette of 256
 * colours, one pixel per token pair, block-averaged down to `maxRasterSize` pixels a side) so that a 1000 × 1000
 * map stays a few hundred kilobytes.
 */
import { drawFrame, layoutFrame, LABEL_SIZE, TICK_SIZE, type FrameOptions, type Tick } from './chart-frame.js';
import { divergingColorScale } from './color-scale.js';
import { encodePng } from './encode-png.js';
import { formatTick, niceTicks } from './nice-ticks.js';
import { SvgDocument, num } from './svg-document.js';
import { textWidth } from './text-width.js';

export interface SimilarityMatrixChartOptions {
  title: string;
  subtitle?: string;
  /** Matrix side (tokens). */
  size: number;
  values: ArrayLike<number>; // [size, size], row-major; NaN = no value (drawn grey)
  xLabel?: string;
  yLabel?: string;
  /** The index of the first token (tick labels count from here); default 0. */
  offset?: number;
  /** Above this side length the matrix is embedded as a PNG; default 48. */
  rasterThreshold?: number;
  /** The embedded PNG's largest side in pixels (block means beyond it); default 500. */
  maxRasterSize?: number;
  /** Colour-bar label; default "cosine similarity". */
  valueLabel?: string;
  /** Plot side in pixels; default 480. */
  plotSize?: number;
  idPrefix?: string;
}

const NAN_INDEX = 255;

export function similarityMatrixChart(o: SimilarityMatrixChartOptions): string {
  const n = o.size;
  if (!Number.isInteger(n) || n < 1 || o.values.length !== n * n) {
    throw new RangeError(`similarityMatrixChart: expected ${n} × ${n} values, got ${o.values.length}`);
  }
  const scale = divergingColorScale([-1, 1]);
  const offset = o.offset ?? 0;
  const plotSize = o.plotSize ?? 480;
  const tickVals = niceTicks(offset, offset + n - 1, 5).ticks.filter((t) => t >= offset && t <= offset + n - 1 && Number.isInteger(t));
  const barTicks = [-1, -0.5, 0, 0.5, 1];
  const barTickW = Math.max(...barTicks.map((t) => textWidth(formatTick(t), TICK_SIZE)));
  const valueLabel = o.valueLabel ?? 'cosine similarity';
  const frame: FrameOptions = {
    width: 0,
    height: 0,
    title: o.title,
    subtitle: o.subtitle,
    xLabel: o.xLabel ?? 'token index',
    yLabel: o.yLabel ?? 'token index',
    yTickTexts: tickVals.map((t) => String(t)),
    xTickTexts: tickVals.map((t) => String(t)),
    rightExtra: 16 + 6 + barTickW + 8 + LABEL_SIZE + 12,
  };
  // Size the canvas so that the plot area is square and plotSize wide.
  const probe = layoutFrame(frame);
  frame.width = probe.area.left + plotSize + (probe.width - probe.area.left - probe.area.width);
  frame.height = probe.area.top + plotSize + (probe.height - probe.area.top - probe.area.height);
  const layout = layoutFrame(frame);
  const { area } = layout;
  const side = Math.min(area.width, area.height);
  const cell = side / n;
  const doc = new SvgDocument(layout.width, layout.height, { title: o.title, idPrefix: o.idPrefix });
  const pos = (t: number): number => area.left + (t - offset + 0.5) * cell;
  const posY = (t: number): number => area.top + (t - offset + 0.5) * cell;
  const xTicks: Tick[] = tickVals.map((t) => ({ pos: pos(t), text: String(t) }));
  const yTicks: Tick[] = tickVals.map((t) => ({ pos: posY(t), text: String(t) }));
  drawFrame(doc, frame, layout, xTicks, [], {});
  for (const t of yTicks) {
    doc.line(area.left - 4, t.pos, area.left, t.pos, { stroke: '#333' });
    doc.text(area.left - 7, t.pos, t.text, { size: TICK_SIZE, anchor: 'end', baseline: 'middle', extra: { class: 'tick' } });
  }
  if (n <= (o.rasterThreshold ?? 48)) {
    doc.open('g', { class: 'matrix', 'shape-rendering': 'crispEdges' });
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = o.values[i * n + j]!;
        doc.rect(area.left + j * cell, area.top + i * cell, cell, cell, {
          fill: Number.isFinite(v) ? scale.hex(v) : '#d9d9d9',
          class: 'cell',
        });
      }
    }
    doc.close('g');
  } else {
    const png = rasterize(o.values, n, o.maxRasterSize ?? 500, scale.rgb);
    doc.element('image', {
      x: area.left,
      y: area.top,
      width: side,
      height: side,
      preserveAspectRatio: 'none',
      'image-rendering': 'pixelated',
      style: 'image-rendering:pixelated;image-rendering:crisp-edges',
      class: 'matrix-raster',
      'xlink:href': `data:image/png;base64,${png.toString('base64')}`,
    });
  }
  doc.rect(area.left, area.top, side, side, { fill: 'none', stroke: '#333', 'stroke-width': 1 });
  // Colour bar.
  const barX = area.left + area.width + 18;
  const barH = Math.min(side, 260);
  const gradId = doc.id('grad');
  // The bar runs top (domain max) to bottom (domain min): stops in reverse with increasing offsets.
  const stops = [...scale.stops].reverse().map((c, i) => `<stop offset="${num((i / (scale.stops.length - 1)) * 100)}%" stop-color="${c}"/>`);
  doc.def(`<linearGradient id="${gradId}" x1="0" y1="0" x2="0" y2="1">${stops.join('')}</linearGradient>`);
  doc.rect(barX, area.top, 16, barH, { fill: `url(#${gradId})`, stroke: '#888', 'stroke-width': 0.5, class: 'color-bar' });
  for (const t of barTicks) {
    const ty = area.top + barH - ((t + 1) / 2) * barH;
    doc.line(barX + 16, ty, barX + 20, ty, { stroke: '#333' });
    doc.text(barX + 22, ty, formatTick(t), { size: TICK_SIZE, baseline: 'middle', extra: { class: 'tick' } });
  }
  doc.text(barX + 22 + barTickW + 8 + LABEL_SIZE - 2, area.top + barH / 2, valueLabel, { size: LABEL_SIZE, anchor: 'middle', rotate: -90, extra: { class: 'axis-label' } });
  return doc.toString();
}

/** Block-means the matrix down to at most maxSide pixels a side and encodes it as a 255-colour palette PNG. */
function rasterize(values: ArrayLike<number>, n: number, maxSide: number, rgb: (v: number) => [number, number, number]): Buffer {
  const factor = Math.max(1, Math.ceil(n / Math.max(1, maxSide)));
  const m = Math.ceil(n / factor);
  const palette = new Uint8Array(256 * 3);
  for (let k = 0; k < 255; k++) {
    const [r, g, b] = rgb(-1 + (2 * k) / 254);
    palette[3 * k] = Math.round(r);
    palette[3 * k + 1] = Math.round(g);
    palette[3 * k + 2] = Math.round(b);
  }
  palette.set([217, 217, 217], 3 * NAN_INDEX);
  const pixels = new Uint8Array(m * m);
  for (let bi = 0; bi < m; bi++) {
    for (let bj = 0; bj < m; bj++) {
      let sum = 0;
      let count = 0;
      for (let i = bi * factor; i < Math.min(n, (bi + 1) * factor); i++) {
        for (let j = bj * factor; j < Math.min(n, (bj + 1) * factor); j++) {
          const v = values[i * n + j]!;
          if (Number.isFinite(v)) {
            sum += v;
            count++;
          }
        }
      }
      const mean = count > 0 ? Math.max(-1, Math.min(1, sum / count)) : NaN;
      pixels[bi * m + bj] = Number.isFinite(mean) ? Math.round(((mean + 1) / 2) * 254) : NAN_INDEX;
    }
  }
  return encodePng({ width: m, height: m, colorType: 'indexed', pixels, palette });
}
