/**
 * The layout every x/y chart shares: title and subtitle on top, y axis label and tick labels on the left, x tick
 * labels (rotated when they would overlap) and the x axis label below, a legend on the right. Margins are computed
 * from the estimated widths of the actual labels, and the canvas grows when a title would not fit, so nothing is
 * clipped.
 */
import { SvgDocument } from './svg-document.js';
import { textWidth } from './text-width.js';

export const TITLE_SIZE = 16;
export const SUBTITLE_SIZE = 12;
export const LABEL_SIZE = 13;
export const TICK_SIZE = 11;
export const LEGEND_SIZE = 12;
const PAD = 12;

export interface LegendEntry {
  name: string;
  color: string;
  /** How the swatch is drawn: a line, a dashed line (reference), or a filled box (bars, heatmap cells). */
  kind: 'line' | 'dashed' | 'box';
  /** The series name written into data-series (stable-colour checks); defaults to `name`. */
  series?: string;
  /** A marker drawn on the swatch's line (the shape the series' points have). */
  marker?: MarkerShape;
  /** The line's dash pattern (a series drawn dashed because it lies on another). */
  dash?: string;
}

/** Point shapes, one per series in turn, so that series on top of each other stay distinguishable. */
export const MARKER_SHAPES = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross'] as const;
export type MarkerShape = (typeof MARKER_SHAPES)[number];

/** Draws one marker centred at (x, y); `r` is the circle's radius, other shapes are drawn at the same visual size. */
export function drawMarker(doc: SvgDocument, shape: MarkerShape, x: number, y: number, r: number, attrs: Record<string, string | number | undefined>): void {
  const n = (v: number): string => String(Math.round(v * 100) / 100);
  if (shape === 'circle') {
    doc.element('circle', { cx: x, cy: y, r, ...attrs });
    return;
  }
  const s = r * 1.15;
  const d =
    shape === 'square'
      ? `M${n(x - s)},${n(y - s)}h${n(2 * s)}v${n(2 * s)}h${n(-2 * s)}Z`
      : shape === 'triangle'
        ? `M${n(x)},${n(y - 1.3 * s)}L${n(x + 1.2 * s)},${n(y + 0.9 * s)}L${n(x - 1.2 * s)},${n(y + 0.9 * s)}Z`
        : shape === 'triangle-down'
          ? `M${n(x)},${n(y + 1.3 * s)}L${n(x + 1.2 * s)},${n(y - 0.9 * s)}L${n(x - 1.2 * s)},${n(y - 0.9 * s)}Z`
          : shape === 'diamond'
            ? `M${n(x)},${n(y - 1.4 * s)}L${n(x + 1.4 * s)},${n(y)}L${n(x)},${n(y + 1.4 * s)}L${n(x - 1.4 * s)},${n(y)}Z`
            : `M${n(x - s)},${n(y - 0.35 * s)}h${n(0.65 * s)}v${n(-0.65 * s)}h${n(0.7 * s)}v${n(0.65 * s)}h${n(0.65 * s)}v${n(0.7 * s)}h${n(-0.65 * s)}v${n(0.65 * s)}h${n(-0.7 * s)}v${n(-0.65 * s)}h${n(-0.65 * s)}Z`;
  // data-cx / data-cy: the centre, as a circle's cx / cy give it (tests and readers of the SVG use either).
  doc.path(d, { ...attrs, 'data-shape': shape, 'data-cx': n(x), 'data-cy': n(y) });
}

export interface FrameOptions {
  width: number;
  height: number;
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  yTickTexts: string[];
  xTickTexts: string[];
  /** Horizontal room per x tick label (pixels of plot width / number of ticks) decides rotation; 0 = never rotate. */
  xSlotCount?: number;
  legend?: LegendEntry[];
  legendTitle?: string;
  /** Extra room on the right (a colour bar), in pixels. */
  rightExtra?: number;
}

export interface PlotArea {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface FrameLayout {
  width: number;
  height: number;
  area: PlotArea;
  rotateX: boolean;
  legendX: number;
}

export interface Tick {
  pos: number;
  text: string;
}

function legendWidth(entries: LegendEntry[] | undefined, title: string | undefined): number {
  if (!entries || entries.length === 0) return 0;
  const texts = Math.max(...entries.map((e) => textWidth(e.name, LEGEND_SIZE)), title ? textWidth(title, LEGEND_SIZE) : 0);
  return 26 + texts + PAD;
}

export function layoutFrame(o: FrameOptions): FrameLayout {
  const headerH = PAD + TITLE_SIZE + (o.subtitle ? 6 + SUBTITLE_SIZE : 0) + PAD + 4;
  const yTickW = Math.max(0, ...o.yTickTexts.map((t) => textWidth(t, TICK_SIZE)));
  const left = PAD + LABEL_SIZE + 8 + yTickW + 8;
  const legendW = legendWidth(o.legend, o.legendTitle);
  const right = PAD + legendW + (o.rightExtra ?? 0) + (legendW > 0 ? 8 : 0);
  const headerW = Math.max(
    textWidth(o.title, TITLE_SIZE),
    o.subtitle ? textWidth(o.subtitle, SUBTITLE_SIZE) : 0,
  ) + 2 * PAD;
  const width = Math.max(o.width, headerW, left + right + 160);
  const plotW = width - left - right;
  const maxXTick = Math.max(0, ...o.xTickTexts.map((t) => textWidth(t, TICK_SIZE)));
  const slot = o.xSlotCount ? plotW / o.xSlotCount : Infinity;
  const rotateX = maxXTick > slot - 6;
  // Rotated labels (-35°) need their projected height.
  const xTickH = rotateX ? maxXTick * Math.sin((35 * Math.PI) / 180) + TICK_SIZE : TICK_SIZE + 2;
  const bottom = 6 + xTickH + 8 + LABEL_SIZE + PAD;
  const legendH = o.legend ? (o.legend.length + (o.legendTitle ? 1 : 0)) * 20 + 10 : 0;
  const height = Math.max(o.height, headerH + bottom + 140, headerH + legendH + 20);
  const area: PlotArea = { left, top: headerH, width: plotW, height: height - headerH - bottom };
  return { width, height, area, rotateX, legendX: left + plotW + 16 };
}

/** Title, subtitle, grid lines, axes, tick labels and axis labels. Series are drawn by the caller, then the legend. */
export function drawFrame(
  doc: SvgDocument,
  o: FrameOptions,
  layout: FrameLayout,
  xTicks: Tick[],
  yTicks: Tick[],
  options: { xGrid?: boolean } = {},
): void {
  const { area } = layout;
  doc.text(PAD, PAD + TITLE_SIZE - 2, o.title, { size: TITLE_SIZE, weight: 'bold', extra: { class: 'title' } });
  if (o.subtitle) {
    doc.text(PAD, PAD + TITLE_SIZE + 6 + SUBTITLE_SIZE - 2, o.subtitle, { size: SUBTITLE_SIZE, fill: '#555' });
  }
  const bottomY = area.top + area.height;
  doc.open('g', { class: 'grid', stroke: '#e6e6e6', 'stroke-width': 1 });
  for (const t of yTicks) doc.line(area.left, t.pos, area.left + area.width, t.pos);
  if (options.xGrid) for (const t of xTicks) doc.line(t.pos, area.top, t.pos, bottomY);
  doc.close('g');
  doc.open('g', { class: 'axes', stroke: '#333', 'stroke-width': 1 });
  doc.line(area.left, area.top, area.left, bottomY);
  doc.line(area.left, bottomY, area.left + area.width, bottomY);
  for (const t of yTicks) doc.line(area.left - 4, t.pos, area.left, t.pos);
  for (const t of xTicks) doc.line(t.pos, bottomY, t.pos, bottomY + 4);
  doc.close('g');
  for (const t of yTicks) {
    doc.text(area.left - 7, t.pos, t.text, { size: TICK_SIZE, anchor: 'end', baseline: 'middle', extra: { class: 'tick' } });
  }
  for (const t of xTicks) {
    if (layout.rotateX) {
      doc.text(t.pos, bottomY + 8, t.text, { size: TICK_SIZE, anchor: 'end', baseline: 'hanging', rotate: -35, extra: { class: 'tick' } });
    } else {
      doc.text(t.pos, bottomY + 7, t.text, { size: TICK_SIZE, anchor: 'middle', baseline: 'hanging', extra: { class: 'tick' } });
    }
  }
  doc.text(area.left + area.width / 2, layout.height - PAD - 2, o.xLabel, { size: LABEL_SIZE, anchor: 'middle', extra: { class: 'axis-label' } });
  const yLabelX = PAD + LABEL_SIZE - 2;
  doc.text(yLabelX, area.top + area.height / 2, o.yLabel, { size: LABEL_SIZE, anchor: 'middle', rotate: -90, extra: { class: 'axis-label' } });
}

export function drawLegend(doc: SvgDocument, o: FrameOptions, layout: FrameLayout): void {
  if (!o.legend || o.legend.length === 0) return;
  let y = layout.area.top + 4;
  const x = layout.legendX;
  doc.open('g', { class: 'legend' });
  if (o.legendTitle) {
    doc.text(x, y + 6, o.legendTitle, { size: LEGEND_SIZE, weight: 'bold', baseline: 'middle' });
    y += 20;
  }
  for (const e of o.legend) {
    const series = e.series ?? e.name;
    if (e.kind === 'box') {
      doc.rect(x, y, 18, 12, { fill: e.color, 'data-series': series });
    } else {
      doc.line(x, y + 6, x + 18, y + 6, {
        stroke: e.color,
        'stroke-width': 2.5,
        'stroke-dasharray': e.kind === 'dashed' ? '5 3' : e.dash,
        'data-series': series,
      });
      if (e.marker) drawMarker(doc, e.marker, x + 9, y + 6, 3.5, { fill: e.color, stroke: '#fff', 'stroke-width': 1, 'data-series': series });
    }
    doc.text(x + 26, y + 6, e.name, { size: LEGEND_SIZE, baseline: 'middle' });
    y += 20;
  }
  doc.close('g');
}
