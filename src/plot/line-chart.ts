/**
 * Line charts: one line per series (a method), optional spread per point drawn as error bars or as a shaded band,
 * and optional horizontal reference lines (the full cache's score). Used for score against budget and for the
 * per-layer kept ratio.
 */
import { drawFrame, drawLegend, drawMarker, layoutFrame, MARKER_SHAPES, type FrameOptions, type LegendEntry, type Tick } from './chart-frame.js';
import { linearScale } from './linear-scale.js';
import { methodColor } from './method-colors.js';
import { axisTicks, niceTicks } from './nice-ticks.js';
import { num, SvgDocument } from './svg-document.js';

export interface LinePoint {
  x: number;
  y: number;
  /** Lower and upper end of the spread (error bar or band); omit for none. */
  lo?: number;
  hi?: number;
}

export interface LineSeries {
  name: string;
  /** Defaults to methodColor(name). */
  color?: string;
  points: LinePoint[];
}

export interface ReferenceLine {
  name: string;
  y: number;
  color?: string;
}

export interface LineChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  referenceLines?: ReferenceLine[];
  /** How the spread is drawn. */
  spread?: 'bars' | 'band' | 'none';
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Explicit x ticks (e.g. the budgets run); default: round numbers. */
  xTicks?: number[];
  formatX?: (v: number) => string;
  formatY?: (v: number) => string;
  /** Markers at the points (default: when a series has at most 30 points). */
  markers?: boolean;
  width?: number;
  height?: number;
  idPrefix?: string;
  legendTitle?: string;
}

export function lineChart(o: LineChartOptions): string {
  const spread = o.spread ?? 'bars';
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = o.series.flatMap((s) => s.points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]));
  for (const r of o.referenceLines ?? []) ys.push(r.y);
  const finite = (a: number[]): number[] => a.filter(Number.isFinite);
  const xf = finite(xs);
  const yf = finite(ys);
  const xNice = o.xTicks
    ? { ticks: o.xTicks, domain: o.xDomain ?? ([Math.min(...o.xTicks), Math.max(...o.xTicks)] as [number, number]) }
    : niceTicks(o.xDomain?.[0] ?? Math.min(...(xf.length ? xf : [0])), o.xDomain?.[1] ?? Math.max(...(xf.length ? xf : [1])), 6);
  const yNice = niceTicks(o.yDomain?.[0] ?? Math.min(...(yf.length ? yf : [0])), o.yDomain?.[1] ?? Math.max(...(yf.length ? yf : [1])), 5);
  // The x domain is the data's extent (a layer axis should end at the last layer), ticks are the round values in it.
  const xDomain = o.xDomain ?? (o.xTicks ? xNice.domain : xf.length ? ([Math.min(...xf), Math.max(...xf)] as [number, number]) : xNice.domain);
  const yDomain = o.yDomain ?? yNice.domain;
  const { values: yTicksV, label: fy } = axisTicks(yNice.ticks, yDomain, o.formatY);
  const { values: xTicksV, label: fx } = axisTicks(xNice.ticks, xDomain, o.formatX);

  const showMarkers = (s: LineSeries): boolean => o.markers ?? s.points.length <= 30;
  // A series whose every point lies on an earlier series' (same x, y within 0.5% of the axis) would hide it: it is
  // drawn dashed on top, and the legend says which series it covers.
  const ySpan = Math.abs(yNice.domain[1] - yNice.domain[0]) || 1;
  const finitePts = (s: LineSeries): LinePoint[] => s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
  const covers: (string | undefined)[] = o.series.map((s, si) => {
    const pts = finitePts(s);
    if (pts.length === 0) return undefined;
    const under = o.series.slice(0, si).find((t) => {
      const other = finitePts(t);
      return other.length === pts.length && other.every((q, i) => q.x === pts[i]!.x && Math.abs(q.y - pts[i]!.y) <= ySpan * 0.005);
    });
    return under?.name;
  });
  const DASHES = ['7 5', '3 4', '10 4 2 4'];
  let dashed = 0;
  const dashOf: (string | undefined)[] = covers.map((c) => (c === undefined ? undefined : DASHES[dashed++ % DASHES.length]));
  const legend: LegendEntry[] = [
    ...o.series.map((s, si) => ({
      name: covers[si] !== undefined ? `${s.name} (on ${covers[si]})` : s.name,
      series: s.name,
      color: s.color ?? methodColor(s.name),
      kind: 'line' as const,
      ...(showMarkers(s) ? { marker: MARKER_SHAPES[si % MARKER_SHAPES.length] } : {}),
      ...(dashOf[si] !== undefined ? { dash: dashOf[si] } : {}),
    })),
    ...(o.referenceLines ?? []).map((r) => ({ name: r.name, color: r.color ?? methodColor(r.name), kind: 'dashed' as const })),
  ];
  const frame: FrameOptions = {
    width: o.width ?? 720,
    height: o.height ?? 440,
    title: o.title,
    subtitle: o.subtitle,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    yTickTexts: yTicksV.map(fy),
    xTickTexts: xTicksV.map(fx),
    xSlotCount: xTicksV.length,
    legend,
    legendTitle: o.legendTitle,
  };
  const layout = layoutFrame(frame);
  const { area } = layout;
  // With error bars, series are nudged apart a few pixels so that bars at the same x do not hide each other; series
  // lying on each other are nudged further, so that each one's markers show beside the others'.
  const overlapping = covers.some((c) => c !== undefined);
  const dodgeStep = o.series.length < 2 ? 0 : overlapping ? Math.min(7, 42 / o.series.length) : spread === 'bars' ? Math.min(4, 24 / o.series.length) : 0;
  // A small inset keeps markers and error bars at the domain's ends (nudged or not) inside the plot area.
  const inset = 8 + (dodgeStep * (o.series.length - 1)) / 2;
  const sxBase = linearScale(xDomain, [area.left + inset, area.left + area.width - inset]);
  const sy = linearScale(yDomain, [area.top + area.height, area.top]);
  const doc = new SvgDocument(layout.width, layout.height, { title: o.title, idPrefix: o.idPrefix });
  const xTicks: Tick[] = xTicksV.map((v) => ({ pos: sxBase(v), text: fx(v) }));
  const yTicks: Tick[] = yTicksV.map((v) => ({ pos: sy(v), text: fy(v) }));
  drawFrame(doc, frame, layout, xTicks, yTicks);

  const clipId = doc.id('clip');
  doc.def(`<clipPath id="${clipId}"><rect x="${num(area.left)}" y="${num(area.top - 2)}" width="${num(area.width)}" height="${num(area.height + 4)}"/></clipPath>`);
  doc.open('g', { 'clip-path': `url(#${clipId})` });
  for (const r of o.referenceLines ?? []) {
    const color = r.color ?? methodColor(r.name);
    doc.line(area.left, sy(r.y), area.left + area.width, sy(r.y), {
      stroke: color,
      'stroke-width': 2,
      'stroke-dasharray': '6 4',
      class: 'reference',
      'data-series': r.name,
    });
  }
  o.series.forEach((s, si) => {
    const dodge = (si - (o.series.length - 1) / 2) * dodgeStep;
    const sx = (v: number): number => sxBase(v) + dodge;
    const color = s.color ?? methodColor(s.name);
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    doc.open('g', { class: 'series', 'data-series': s.name });
    const withSpread = pts.filter((p) => p.lo !== undefined && p.hi !== undefined && Number.isFinite(p.lo) && Number.isFinite(p.hi));
    if (spread === 'band' && withSpread.length > 1) {
      const upper = withSpread.map((p) => `${num(sx(p.x))},${num(sy(p.hi!))}`);
      const lower = withSpread.map((p) => `${num(sx(p.x))},${num(sy(p.lo!))}`).reverse();
      doc.path(`M${upper.join('L')}L${lower.join('L')}Z`, { fill: color, 'fill-opacity': 0.18, stroke: 'none', class: 'band', 'data-series': s.name });
    }
    if (pts.length > 1) {
      doc.path('M' + pts.map((p) => `${num(sx(p.x))},${num(sy(p.y))}`).join('L'), {
        fill: 'none',
        stroke: color,
        'stroke-width': 2,
        'stroke-linejoin': 'round',
        'stroke-dasharray': dashOf[si],
        class: 'line',
        'data-series': s.name,
      });
    }
    if (spread === 'bars') {
      for (const p of withSpread) {
        const x = sx(p.x);
        doc.path(`M${num(x)},${num(sy(p.lo!))}V${num(sy(p.hi!))}M${num(x - 4)},${num(sy(p.lo!))}h8M${num(x - 4)},${num(sy(p.hi!))}h8`, {
          stroke: color,
          'stroke-width': 1.3,
          fill: 'none',
          class: 'error-bar',
          'data-series': s.name,
        });
      }
    }
    if (showMarkers(s)) {
      const shape = MARKER_SHAPES[si % MARKER_SHAPES.length]!;
      for (const p of pts) {
        drawMarker(doc, shape, sx(p.x), sy(p.y), 4, { fill: color, stroke: '#fff', 'stroke-width': 1, class: 'point', 'data-series': s.name, 'data-value': String(Number(p.y.toPrecision(6))) });
      }
    }
    doc.close('g');
  });
  doc.close('g');
  drawLegend(doc, frame, layout);
  return doc.toString();
}
