/**
 * A needle-in-a-haystack heatmap as in the KVMerger paper's Figure 5: context length across, needle depth down
 * (0% = the needle at the start of the haystack, on top), each cell coloured by the mean score of its samples on a
 * red → yellow → green scale, with a colour bar. Cells without data are grey.
 */
import { drawFrame, layoutFrame, LABEL_SIZE, TICK_SIZE, type FrameOptions, type Tick } from './chart-frame.js';
import { contrastText, scoreColorScale } from './color-scale.js';
import { axisTicks, niceTicks } from './nice-ticks.js';
import { SvgDocument, num } from './svg-document.js';
import { textWidth } from './text-width.js';

export interface HeatmapCell {
  x: number;
  y: number;
  value: number;
  /** Samples behind the mean (shown in the cell's tooltip). */
  n?: number;
}

export interface HeatmapChartOptions {
  title: string;
  subtitle?: string;
  /** Column values (context lengths), in display order. */
  xValues: number[];
  /** Row values (depths), top to bottom. */
  yValues: number[];
  cells: HeatmapCell[];
  xLabel: string;
  yLabel: string;
  /** The colour bar's label, e.g. "score". */
  valueLabel: string;
  /** Value range of the colour scale; default [0, 1]. */
  domain?: [number, number];
  formatX?: (v: number) => string;
  formatY?: (v: number) => string;
  formatValue?: (v: number) => string;
  /** Write each cell's value inside it when it fits (default true). */
  cellLabels?: boolean;
  /** The method drawn, written into data-series. */
  series?: string;
  width?: number;
  height?: number;
  idPrefix?: string;
}

const NO_DATA = '#d9d9d9';

export function heatmapChart(o: HeatmapChartOptions): string {
  const domain = o.domain ?? [0, 1];
  const scale = scoreColorScale(domain);
  const fx = o.formatX ?? ((v: number) => String(v));
  const fy = o.formatY ?? ((v: number) => String(v));
  const fv = o.formatValue ?? ((v: number) => (domain[1] <= 1 ? v.toFixed(2) : v.toFixed(1)));
  const { values: barTicks, label: barLabel } = axisTicks(niceTicks(domain[0], domain[1], 4).ticks, domain);
  const barTickW = Math.max(...barTicks.map((t) => textWidth(barLabel(t), TICK_SIZE)), textWidth('no data', TICK_SIZE) - 20);
  // The colour bar: 16 px wide, tick labels to its right, its label rotated beside them.
  const colorBarW = 16 + 6 + barTickW + 8 + LABEL_SIZE + 12;
  const frame: FrameOptions = {
    width: o.width ?? Math.max(560, 200 + o.xValues.length * 56),
    height: o.height ?? Math.max(400, 160 + o.yValues.length * 30),
    title: o.title,
    subtitle: o.subtitle,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    yTickTexts: o.yValues.map(fy),
    xTickTexts: o.xValues.map(fx),
    xSlotCount: o.xValues.length,
    rightExtra: colorBarW,
  };
  const layout = layoutFrame(frame);
  const { area } = layout;
  const cw = area.width / Math.max(1, o.xValues.length);
  const ch = area.height / Math.max(1, o.yValues.length);
  const doc = new SvgDocument(layout.width, layout.height, { title: o.title, idPrefix: o.idPrefix });
  const xTicks: Tick[] = o.xValues.map((v, i) => ({ pos: area.left + cw * (i + 0.5), text: fx(v) }));
  const yTicks: Tick[] = o.yValues.map((v, i) => ({ pos: area.top + ch * (i + 0.5), text: fy(v) }));
  drawFrame(doc, frame, layout, xTicks, [], {});
  // Row tick labels without grid lines (cells fill the area).
  for (const t of yTicks) {
    doc.line(area.left - 4, t.pos, area.left, t.pos, { stroke: '#333' });
    doc.text(area.left - 7, t.pos, t.text, { size: TICK_SIZE, anchor: 'end', baseline: 'middle', extra: { class: 'tick' } });
  }
  const byKey = new Map<string, HeatmapCell>();
  for (const c of o.cells) byKey.set(`${c.x}|${c.y}`, c);
  const labelSize = Math.min(11, ch * 0.55);
  const showLabels = (o.cellLabels ?? true) && labelSize >= 8 && textWidth(fv(domain[1]), labelSize) <= cw - 4;
  doc.open('g', { class: 'cells', 'data-series': o.series });
  o.yValues.forEach((yv, yi) => {
    o.xValues.forEach((xv, xi) => {
      const cell = byKey.get(`${xv}|${yv}`);
      const x = area.left + cw * xi;
      const y = area.top + ch * yi;
      if (!cell || !Number.isFinite(cell.value)) {
        doc.rect(x, y, cw, ch, { fill: NO_DATA, stroke: '#ffffff', 'stroke-width': 1, class: 'cell-empty' });
        return;
      }
      const rgb = scale.rgb(cell.value);
      const tip = `${o.xLabel} ${fx(xv)}, ${o.yLabel} ${fy(yv)}: ${fv(cell.value)}${cell.n !== undefined ? ` (n=${cell.n})` : ''}`;
      doc.element('rect', { x, y, width: cw, height: ch, fill: scale.hex(cell.value), stroke: '#ffffff', 'stroke-width': 1, class: 'cell', 'data-value': cell.value }, `<title>${tip.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</title>`);
      if (showLabels) {
        doc.text(x + cw / 2, y + ch / 2, fv(cell.value), { size: labelSize, anchor: 'middle', baseline: 'middle', fill: contrastText(rgb) });
      }
    });
  });
  doc.close('g');
  // Colour bar.
  const barX = area.left + area.width + 18;
  const barH = Math.min(area.height, 260);
  const barY = area.top;
  const gradId = doc.id('grad');
  // The bar runs top (domain max) to bottom (domain min): stops in reverse with increasing offsets.
  const stops = [...scale.stops].reverse().map((c, i) => `<stop offset="${num((i / (scale.stops.length - 1)) * 100)}%" stop-color="${c}"/>`);
  doc.def(`<linearGradient id="${gradId}" x1="0" y1="0" x2="0" y2="1">${stops.join('')}</linearGradient>`);
  doc.rect(barX, barY, 16, barH, { fill: `url(#${gradId})`, stroke: '#888', 'stroke-width': 0.5, class: 'color-bar' });
  for (const t of barTicks) {
    const ty = barY + barH - ((t - domain[0]) / (domain[1] - domain[0] || 1)) * barH;
    doc.line(barX + 16, ty, barX + 20, ty, { stroke: '#333' });
    doc.text(barX + 22, ty, barLabel(t), { size: TICK_SIZE, baseline: 'middle', extra: { class: 'tick' } });
  }
  const labelX = barX + 22 + barTickW + 8 + LABEL_SIZE - 2;
  doc.text(labelX, barY + barH / 2, o.valueLabel, { size: LABEL_SIZE, anchor: 'middle', rotate: -90, extra: { class: 'axis-label' } });
  if (o.cells.length < o.xValues.length * o.yValues.length && barY + barH + 30 < area.top + area.height + 4) {
    doc.rect(barX, barY + barH + 12, 16, 12, { fill: NO_DATA });
    doc.text(barX + 22, barY + barH + 18, 'no data', { size: TICK_SIZE, baseline: 'middle' });
  }
  return doc.toString();
}
