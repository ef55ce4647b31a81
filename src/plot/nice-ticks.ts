/**
 * Round tick values for an axis: steps of 1, 2, 2.5 or 5 times a power of ten, covering [min, max] with about
 * `count` ticks. Returns the ticks and the (possibly widened) domain they span.
 */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; domain: [number, number] } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { ticks: [0, 1], domain: [0, 1] };
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = lo, i = 0; v <= hi + step * 1e-9 && i < 100; v = lo + ++i * step) ticks.push(Number(v.toPrecision(12)));
  return { ticks, domain: [ticks[0]!, ticks[ticks.length - 1]!] };
}

/** A tick label: integers as is, others with as few decimals as the step needs. */
export function formatTick(v: number, step?: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
  const decimals = step !== undefined && step > 0 ? Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9) + 1)) : 2;
  return String(Number(v.toFixed(decimals)));
}

/** The ticks inside `domain` (with float slack) and their label: `format`, or formatTick at the ticks' step. */
export function axisTicks(ticks: readonly number[], domain: readonly [number, number], format?: (v: number) => string): { values: number[]; label: (v: number) => string } {
  const values = ticks.filter((t) => t >= domain[0] - 1e-9 && t <= domain[1] + 1e-9);
  const step = values.length > 1 ? Math.abs(values[1]! - values[0]!) : undefined;
  return { values, label: format ?? ((v: number) => formatTick(v, step)) };
}
