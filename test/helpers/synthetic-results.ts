/**
 * A small synthetic eval run for report tests: model `tiny`, the full cache plus h2o, cam and kvmerger at budgets
 * 0.5 and 0.35, a needle task on a 2 × 3 grid (lengths 256 and 512 tokens, depths 0/50/100%, 2 samples per cell)
 * and a fidelity task (3 samples). Scores follow simple rules so that tests can state the means by hand:
 *
 * needle: full 1; kvmerger@0.5 1; kvmerger@0.35 1 for sample 0, 0 for sample 1; h2o@0.5 0 at depth 50, else 1;
 *         h2o@0.35 0 at length 512, else 1 for sample 0 only; cam@0.5 1 for sample 0 only; cam@0.35 0.
 * fidelity (s = 0, 1, 2): score = top1Agreement = 1 - budgetLoss - 0.1 s where budgetLoss is 0 for full,
 *         kvmerger 0.1, h2o 0.2, cam 0.3 (at 0.35: twice that); klDivergence = budgetLoss + 0.01 s.
 * kvBytes = budget × 1 MiB (full 1 MiB); prefillMs 100 + s, compressMs 10 (0 for full), decodeMs 50.
 * slotsPerLayer (3 layers): round(L b) × [1, 0.5, 1.5]; full: [L, L, L]; promptTokens = L.
 */
export interface SyntheticRow extends Record<string, unknown> {
  method: string;
  task: string;
}

const loss: Record<string, number> = { full: 0, kvmerger: 0.1, h2o: 0.2, cam: 0.3 };

function needleScore(method: string, b: number | null, L: number, d: number, i: number): number {
  if (method === 'full') return 1;
  if (method === 'kvmerger') return b === 0.5 ? 1 : i === 0 ? 1 : 0;
  if (method === 'h2o') return b === 0.5 ? (d === 50 ? 0 : 1) : L === 512 ? 0 : i === 0 ? 1 : 0;
  return b === 0.5 ? (i === 0 ? 1 : 0) : 0; // cam
}

export function syntheticRows(): SyntheticRow[] {
  const rows: SyntheticRow[] = [];
  const cells: [string, number | null][] = [['full', null]];
  for (const b of [0.5, 0.35]) for (const m of ['h2o', 'cam', 'kvmerger']) cells.push([m, b]);
  for (const [method, b] of cells) {
    const common = (s: number, L: number) => ({
      model: 'tiny',
      method,
      options: method === 'kvmerger' ? { mode: 'exact' } : {},
      budgetRequested: b,
      budgetAchieved: b ?? 1,
      kvBytes: (b ?? 1) * 1048576,
      prefillMs: 100 + s,
      compressMs: b === null ? 0 : 10,
      decodeMs: 50,
      version: '0.1.0',
      promptTokens: L,
      slotsPerLayer: b === null ? [L, L, L] : [1, 0.5, 1.5].map((f) => Math.round(L * b) * f),
    });
    for (const L of [256, 512]) {
      for (const d of [0, 50, 100]) {
        for (const i of [0, 1]) {
          rows.push({ ...common(i, L), task: 'needle', sample: `L=${L}/d=${d}/i=${i}`, contextLength: L, depth: d, score: needleScore(method, b, L, d, i) });
        }
      }
    }
    for (const s of [0, 1, 2]) {
      const bl = (loss[method] ?? 0) * (b === 0.35 ? 2 : 1);
      const top1 = 1 - bl - 0.1 * s;
      rows.push({ ...common(s, 300), task: 'fidelity', sample: `s=${s}`, contextLength: 300, score: top1, top1Agreement: top1, klDivergence: bl + 0.01 * s, pplIncrease: bl * 2 });
    }
  }
  return rows;
}

export function toJsonl(rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}
