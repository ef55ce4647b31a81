// Pass key accuracy by prompt length and needle depth from a `kvmerger eval` run: the numbers of the built-in model's
// card (docs/default-model.md), checked against the issue's bar (≥ 95% at 1,000 and 2,000 tokens, ≥ 90% at 4,000).
//
// Usage:
//   kvmerger eval --tasks passkey --methods full --lengths 1000,2000,4000 --depths 0,25,50,75,100 --samples 20 \
//     --out runs/passkey
//   npx tsx scripts/passkey-accuracy.ts runs/passkey [--method full] [--json]
// Exit status 0 when every length meets its bar, 1 when one does not, 2 on bad input.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ResultRow } from '../src/eval/grid/result-row.js';

type Row = Pick<ResultRow, 'task' | 'method' | 'contextLength' | 'depth' | 'score'>;

const BAR: Record<number, number> = { 1000: 0.95, 2000: 0.95, 4000: 0.9 };

function main(): number {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { method: { type: 'string', default: 'full' }, json: { type: 'boolean', default: false } },
  });
  const dir = positionals[0];
  const file = dir ? join(dir, 'results.jsonl') : '';
  if (!dir || !existsSync(file)) {
    console.error(`passkey-accuracy: ${dir ? `${file} does not exist` : 'no run folder given'}; run 'kvmerger eval --tasks passkey ... --out DIR' first and pass DIR`);
    return 2;
  }
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row)
    .filter((r) => r.task === 'passkey' && r.method === values.method);
  if (rows.length === 0) {
    console.error(`passkey-accuracy: ${file} has no passkey rows for method '${values.method}'`);
    return 2;
  }
  const lengths = [...new Set(rows.map((r) => r.contextLength))].sort((a, b) => a - b);
  const depths = [...new Set(rows.map((r) => r.depth ?? -1))].sort((a, b) => a - b);
  const mean = (rs: Row[]) => rs.reduce((s, r) => s + r.score, 0) / rs.length;
  const table = lengths.map((L) => {
    const atL = rows.filter((r) => r.contextLength === L);
    const byDepth = depths.map((d) => {
      const cell = atL.filter((r) => (r.depth ?? -1) === d);
      return { depth: d, correct: cell.reduce((s, r) => s + r.score, 0), n: cell.length };
    });
    const accuracy = mean(atL);
    const bar = BAR[L];
    return { length: L, correct: atL.reduce((s, r) => s + r.score, 0), n: atL.length, accuracy, bar, meets: bar === undefined ? null : accuracy >= bar, byDepth };
  });
  if (values.json) {
    console.log(JSON.stringify({ method: values.method, lengths: table }));
  } else {
    console.log(`| length | ${depths.map((d) => `depth ${d}%`).join(' | ')} | all | bar |`);
    console.log(`|---:|${depths.map(() => '---:').join('|')}|---:|---|`);
    for (const t of table) {
      const cells = t.byDepth.map((c) => `${c.correct}/${c.n}`).join(' | ');
      const bar = t.bar === undefined ? '—' : `${t.meets ? 'meets' : 'misses'} ≥ ${Math.round(t.bar * 100)}%`;
      console.log(`| ${t.length} | ${cells} | **${(100 * t.accuracy).toFixed(1)}%** (${t.correct}/${t.n}) | ${bar} |`);
    }
  }
  return table.every((t) => t.meets !== false) ? 0 : 1;
}

process.exitCode = main();
