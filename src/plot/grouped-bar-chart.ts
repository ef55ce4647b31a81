/**
 * Grouped bar charts: one group per category (a task, a budget, a phase), one bar per series (a method) inside each
 * group, with optional error bars.
 */
import { drawFrame, drawLegend, layoutFrame, type FrameOptions, type Tick } from './chart-frame.js';
import { linearScale } from './linear-scale.js';
import { methodColor } from './method-colors.js';
import { axisTicks, niceTicks } from './nice-ticks.js';
import { SvgDocument, num } from './svg-document.js';

export interface BarSeries {
  name: string;
  color?: string;
  /** One value per group; null = no data (no bar). */
  values: (number | null)[];
  /** Half-widths of error bars, one per group. */
  errors?: (number | null)[];
}

export interface GroupedBarChartOptions {
  title: string;
  subtitle?: string;
  groups: string[];
  series: BarSeries[];
  xLabel: string;
  yLabel: string;
  yDomain?: [number, number];
  formatY?: (v: number) => string;
  width?: number;
  height?: number;
  idPrefix?: string;
  legendTitle?: string;
}

export function groupedBarChart(o: GroupedBarChartOptions): string {
  const vals = o.series.flatMap((s) => s.values.map((v, i) => (v === null ? NaN : v + (s.errors?.[i] ?? 0)))).filter(Number.isFinite);
  const ymax = vals.length ? Math.max(0, ...vals) : 1;
  const ymin = vals.length ? Math.min(0, ...o.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)))) : 0;
  const nice = niceTicks(o.yDomain?.[0] ?? ymin, o.yDomain?.[1] ?? (ymax === ymin ? ymin + 1 : ymax), 5);
  const yDomain = o.yDomain ?? nice.domain;
  const { values: yTicksV, label: fy } = axisTicks(nice.ticks, yDomain, o.formatY);
  const groupsW = Math.max(o.width ?? 720, 140 + o.groups.length * Math.max(40, o.series.length * 14 + 16));
  const frame: FrameOptions = {
    width: groupsW,
    height: o.height ?? 440,
    title: o.title,
    subtitle: o.subtitle,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    yTickTexts: yTicksV.map(fy),
    xTickTexts: o.groups,
    xSlotCount: o.groups.length,
    legend: o.series.map((s) => ({ name: s.name, color: s.color ?? methodColor(s.name), kind: 'box' as const })),
    legendTitle: o.legendTitle,
  };
  const layout = layoutFrame(frame);
  const { area } = layout;
  const sy = linearScale(yDomain, [area.top + area.height, area.top]);
  const slot = area.width / Math.max(1, o.groups.length);
  const inner = slot * 0.8;
  const barW = inner / Math.max(1, o.series.length);
  const doc = new SvgDocument(layout.width, layout.height, { title: o.title, idPrefix: o.idPrefix });
  const xTicks: Tick[] = o.groups.map((g, i) => ({ pos: area.left + slot * (i + 0.5), text: g }));
  const yTicks: Tick[] = yTicksV.map((v) => ({ pos: sy(v), text: fy(v) }));
  drawFrame(doc, frame, layout, xTicks, yTicks);
  const base = sy(Math.max(yDomain[0], Math.min(yDomain[1], 0)));
  o.series.forEach((s, si) => {
    const color = s.color ?? methodColor(s.name);
    doc.open('g', { class: 'series', 'data-series': s.name });
    s.values.forEach((v, gi) => {
      if (v === null || !Number.isFinite(v)) return;
      const x = area.left + slot * gi + (slot - inner) / 2 + barW * si;
      const clamped = Math.max(yDomain[0], Math.min(yDomain[1], v));
      const y = sy(clamped);
      // A bar too short to see (a zero) is drawn as a 2-px stub with its value above, so it reads as a measured
      // zero and not as missing data (a missing value has no bar and no label).
      const h = Math.abs(base - y);
      const tiny = h < 2;
      doc.rect(x + 1, tiny ? (v < 0 ? base : base - 2) : Math.min(y, base), Math.max(1, barW - 2), tiny ? 2 : h, {
        fill: color,
        class: 'bar',
        'data-series': s.name,
        'data-value': v,
      });
      if (tiny) doc.text(x + barW / 2, base - 6, fy(v), { size: 11, anchor: 'middle', fill: '#444', extra: { class: 'zero-label' } });
      const e = s.errors?.[gi];
      if (e !== null && e !== undefined && Number.isFinite(e) && e > 0) {
        const cx = x + barW / 2;
        const lo = sy(Math.max(yDomain[0], v - e));
        const hi = sy(Math.min(yDomain[1], v + e));
        doc.path(`M${num(cx)},${num(lo)}V${num(hi)}M${num(cx - 3)},${num(lo)}h6M${num(cx - 3)},${num(hi)}h6`, {
          stroke: '#222',
          'stroke-width': 1.1,
          fill: 'none',
          class: 'error-bar',
        });
      }
    });
    doc.close('g');
  });
  drawLegend(doc, frame, layout);
  return doc.toString();
}
