/**
 * One colour per compression method, identical in every chart of every report, so a reader learns the key once.
 * Known methods get fixed, well-separated colours (Tableau-like, the flagship in red, the full cache in dark grey);
 * any other name gets a deterministic colour from a hash of the name, so it too is stable across charts and runs.
 */
export const METHOD_COLORS: Readonly<Record<string, string>> = Object.freeze({
  full: '#404040',
  kvmerger: '#d62728',
  h2o: '#1f77b4',
  cam: '#2ca02c',
  streaming: '#ff7f0e',
  snapkv: '#9467bd',
  pyramidkv: '#8c564b',
  tova: '#e377c2',
  knorm: '#17becf',
  random: '#bcbd22',
});

/** The canonical order of methods in tables and legends: the reference, the paper's baselines, then the rest. */
export const METHOD_ORDER: readonly string[] = [
  'full',
  'h2o',
  'cam',
  'kvmerger',
  'streaming',
  'snapkv',
  'pyramidkv',
  'tova',
  'knorm',
  'random',
];

/** FNV-1a, 32 bits: a tiny stable hash (no dependency on Node's crypto, same result everywhere). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}


/**
 * The colour of a method's series. The lookup uses the method's base name (lower case, anything after the first
 * space or parenthesis ignored), so `KVMerger` and `kvmerger (mode=greedy)` share the flagship's colour.
 */
export function methodColor(method: string): string {
  const base = methodBaseName(method);
  const known = METHOD_COLORS[base];
  if (known !== undefined) return known;
  const h = fnv1a(method.toLowerCase());
  // A palette picked to stay apart from the known methods' colours; several unknown names may share one.
  return FALLBACK_COLORS[h % FALLBACK_COLORS.length]!;
}

/** Colours for methods not in METHOD_COLORS, chosen to be distinct from those and from each other. */
export const FALLBACK_COLORS: readonly string[] = [
  '#393b79',
  '#637939',
  '#b58a00',
  '#7b4173',
  '#6b6ecf',
  '#00796b',
  '#e7969c',
  '#8a8a8a',
  '#004d40',
  '#a05d00',
];


/** `KVMerger (mode=greedy)` → `kvmerger`. */
export function methodBaseName(method: string): string {
  return method.trim().toLowerCase().split(/[\s(]/)[0] ?? '';
}

/** Sorts method names in the canonical order; unknown names follow, alphabetically. */
export function sortMethods(methods: Iterable<string>): string[] {
  const rank = (m: string): number => {
    const i = METHOD_ORDER.indexOf(methodBaseName(m));
    return i < 0 ? METHOD_ORDER.length : i;
  };
  return [...new Set(methods)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
