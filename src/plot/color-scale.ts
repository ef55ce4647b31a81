/**
 * Continuous colour scales: the needle heatmaps' red → yellow → green (the scheme of the paper's Figure 5 and of the
 * common needle-in-a-haystack plots), and a diverging blue → white → red for similarities in [-1, 1].
 */
export type Rgb = [number, number, number];

export interface ColorScale {
  domain: [number, number];
  /** Colour stops, evenly spaced over the domain. */
  stops: readonly string[];
  rgb(value: number): Rgb;
  hex(value: number): string;
}

export function parseHex(hex: string): Rgb {
  const h = hex.replace('#', '');
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

export function rgbToHex([r, g, b]: Rgb): string {
  return '#' + [r, g, b].map((c) => Math.round(Math.max(0, Math.min(255, c))).toString(16).padStart(2, '0')).join('');
}

/** A scale interpolating linearly (in sRGB) between evenly spaced stops; values outside the domain are clamped. */
export function colorScale(stops: readonly string[], domain: [number, number]): ColorScale {
  const rgbStops = stops.map(parseHex);
  const rgb = (value: number): Rgb => {
    const [d0, d1] = domain;
    let t = d1 === d0 ? 0.5 : (value - d0) / (d1 - d0);
    if (!Number.isFinite(t)) t = 0;
    t = Math.max(0, Math.min(1, t));
    const pos = t * (rgbStops.length - 1);
    const i = Math.min(rgbStops.length - 2, Math.floor(pos));
    const f = pos - i;
    const a = rgbStops[i]!;
    const b = rgbStops[i + 1]!;
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  };
  return { domain, stops, rgb, hex: (v) => rgbToHex(rgb(v)) };
}

/** Score colours for heatmaps: red (0, the needle lost) through yellow to green (the needle found). */
export const SCORE_STOPS = ['#f0496e', '#ebb839', '#0cd79f'] as const;

export function scoreColorScale(domain: [number, number] = [0, 1]): ColorScale {
  return colorScale(SCORE_STOPS, domain);
}

/** Diverging blue (-1) → near-white (0) → red (+1), ColorBrewer's RdBu reversed. */
export const DIVERGING_STOPS = ['#2166ac', '#67a9cf', '#d1e5f0', '#f7f7f7', '#fddbc7', '#ef8a62', '#b2182b'] as const;

export function divergingColorScale(domain: [number, number] = [-1, 1]): ColorScale {
  return colorScale(DIVERGING_STOPS, domain);
}

/** Black or white, whichever reads better on the given background. */
export function contrastText(background: Rgb): string {
  const [r, g, b] = background;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#111111' : '#ffffff';
}
