/**
 * The "persistent sparsity" claim, tested: do the per-layer kept ratios of different samples and tasks move
 * together? Per layer: mean, std, min, max and coefficient of variation over samples. Across samples: the mean
 * pairwise Pearson correlation of the per-layer ratio vectors, within a task and across tasks.
 */

export interface RatioSample {
  task: string;
  /** [layer] kept ratio. */
  ratios: number[];
}

export interface LayerSpread {
  layer: number;
  n: number;
  mean: number;
  /** Population standard deviation over samples. */
  std: number;
  min: number;
  max: number;
  /** std / mean (0 when the mean is 0). */
  cv: number;
}

export interface PersistenceReport {
  samples: number;
  perLayer: LayerSpread[];
  /** Mean over layers of the coefficient of variation. */
  meanCv: number;
  /**
   * Mean Pearson correlation over every pair of samples' per-layer vectors; null when no pair has a defined
   * correlation (fewer than 2 layers, or constant vectors).
   */
  meanPairwisePearson: number | null;
  /** The same over pairs from the same task. */
  withinTaskPearson: number | null;
  /** The same over pairs from different tasks. */
  acrossTaskPearson: number | null;
  /** Pairs with a defined correlation (all, within, across). */
  pairs: { all: number; within: number; across: number };
  /** Per task: its mean per-layer vector. */
  taskMeans: Record<string, number[]>;
  /** Mean pairwise Pearson correlation of the tasks' mean vectors (null with fewer than 2 tasks). */
  taskMeansPearson: number | null;
  /**
   * Share of the variance of all ratios explained by the layer (between-layer variance / total variance): near 1
   * means the layer decides the ratio and the sample hardly matters.
   */
  layerVarianceShare: number | null;
}

/** Pearson correlation of two equal-length vectors; null when either is constant or shorter than 2. */
export function pearson(a: readonly number[], b: readonly number[]): number | null {
  const n = a.length;
  if (n !== b.length) throw new RangeError(`pearson: lengths ${a.length} and ${b.length} differ`);
  if (n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]! - ma;
    const y = b[i]! - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  // Relative tolerance: a vector constant up to rounding has no defined correlation.
  const scale = Math.max(1e-300, ...a.map(Math.abs), ...b.map(Math.abs));
  if (saa <= 1e-24 * scale * scale * n || sbb <= 1e-24 * scale * scale * n) return null;
  return sab / Math.sqrt(saa * sbb);
}

function meanOrNull(xs: number[]): number | null {
  return xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

export function ratioPersistence(samples: readonly RatioSample[]): PersistenceReport {
  const L = samples[0]?.ratios.length ?? 0;
  for (const s of samples) if (s.ratios.length !== L) throw new RangeError(`ratioPersistence: samples have ${L} and ${s.ratios.length} layers`);
  const perLayer: LayerSpread[] = [];
  for (let l = 0; l < L; l++) {
    const xs = samples.map((s) => s.ratios[l]!);
    const n = xs.length;
    const mean = xs.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / n);
    perLayer.push({ layer: l, n, mean, std, min: Math.min(...xs), max: Math.max(...xs), cv: mean !== 0 ? std / mean : 0 });
  }
  const all: number[] = [];
  const within: number[] = [];
  const across: number[] = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const r = pearson(samples[i]!.ratios, samples[j]!.ratios);
      if (r === null) continue;
      all.push(r);
      (samples[i]!.task === samples[j]!.task ? within : across).push(r);
    }
  }
  const tasks = [...new Set(samples.map((s) => s.task))];
  const taskMeans: Record<string, number[]> = {};
  for (const t of tasks) {
    const ss = samples.filter((s) => s.task === t);
    taskMeans[t] = Array.from({ length: L }, (_, l) => ss.reduce((a, s) => a + s.ratios[l]!, 0) / ss.length);
  }
  const tm: number[] = [];
  for (let i = 0; i < tasks.length; i++) {
    for (let j = i + 1; j < tasks.length; j++) {
      const r = pearson(taskMeans[tasks[i]!]!, taskMeans[tasks[j]!]!);
      if (r !== null) tm.push(r);
    }
  }
  // Between-layer share of the total variance (one-way ANOVA with the layer as the factor).
  let layerVarianceShare: number | null = null;
  if (samples.length > 0 && L > 0) {
    const grand = perLayer.reduce((a, p) => a + p.mean, 0) / L;
    let total = 0;
    for (const s of samples) for (const x of s.ratios) total += (x - grand) ** 2;
    const between = perLayer.reduce((a, p) => a + samples.length * (p.mean - grand) ** 2, 0);
    layerVarianceShare = total > 0 ? between / total : null;
  }
  return {
    samples: samples.length,
    perLayer,
    meanCv: L > 0 ? perLayer.reduce((a, p) => a + p.cv, 0) / L : NaN,
    meanPairwisePearson: meanOrNull(all),
    withinTaskPearson: meanOrNull(within),
    acrossTaskPearson: meanOrNull(across),
    pairs: { all: all.length, within: within.length, across: across.length },
    taskMeans,
    taskMeansPearson: meanOrNull(tm),
    layerVarianceShare,
  };
}
