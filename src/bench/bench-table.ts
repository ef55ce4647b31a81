import { BENCH_ENGINES, type BenchEngine, type BenchRow } from './bench-row.js';

const MiB = 2 ** 20;
const num = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? (a / b).toFixed(2) : '—');
const mib = (x: number | null | undefined): string => (x ? (x / MiB).toFixed(0) : '—');

/** What the table calls each engine. */
const SHORT: Record<BenchEngine, string> = { kvmerger: 'kvmerger', 'llama.cpp-native': 'native', 'node-llama-cpp': 'node-llama-cpp' };

/** The engines of `rows` in the canonical order (kvmerger, llama.cpp-native, node-llama-cpp). */
export function enginesOf(rows: BenchRow[]): BenchEngine[] {
  return BENCH_ENGINES.filter((e) => rows.some((r) => r.engine === e));
}

/** The engine ratios are taken against: native llama.cpp when it ran, else node-llama-cpp. */
function anchorOf(engines: BenchEngine[]): BenchEngine | undefined {
  return engines.includes('llama.cpp-native') ? 'llama.cpp-native' : engines.includes('node-llama-cpp') ? 'node-llama-cpp' : undefined;
}

/**
 * The header of the main table: per model, weights and prompt length, prefill and decode tokens/s of each engine with
 * the kvmerger / anchor ratio (anchor: llama.cpp-native, else node-llama-cpp), peak RSS of each, and a note (errors).
 */
export function benchTableHeader(engines: BenchEngine[]): string[] {
  const anchor = anchorOf(engines);
  const r = engines.includes('kvmerger') && anchor ? [`kvmerger / ${SHORT[anchor]}`] : [];
  const cols = (what: string) => engines.map((e, i) => (i === 0 ? `${what} ${SHORT[e]}` : SHORT[e]));
  const head = ['model', 'weights', 'prompt', ...cols('prefill tok/s'), ...r, ...cols('decode tok/s'), ...r, ...cols('peak RSS MiB'), 'note'];
  const align = head.map((_, i) => (i < 2 || i === head.length - 1 ? '---' : '---:'));
  return [`| ${head.join(' | ')} |`, `|${align.join('|')}|`];
}

/** The main table's lines for `rows` (plain rows; method rows are in benchMethodTable). */
export function benchTableRows(rows: BenchRow[], engines: BenchEngine[]): string[] {
  const plain = rows.filter((r) => r.method === null);
  const key = (r: BenchRow) => `${r.model}|${r.weights}|${r.promptTokens}`;
  const keys = [...new Set(plain.map(key))];
  const anchor = anchorOf(engines);
  const lines: string[] = [];
  for (const k of keys) {
    const at = (e: BenchEngine) => plain.find((r) => r.engine === e && key(r) === k);
    const [model, weights, len] = k.split('|');
    const ours = at('kvmerger');
    const base = anchor ? at(anchor) : undefined;
    const withRatio = engines.includes('kvmerger') && anchor !== undefined;
    const cells = (f: (r: BenchRow | undefined) => string) => engines.map((e) => f(at(e)));
    const errors = engines.map((e) => [e, at(e)?.error] as const).filter((x): x is readonly [BenchEngine, string] => x[1] !== undefined);
    const note = errors.map(([e, m]) => `${SHORT[e]}: ${short(m)}`).join('; ');
    lines.push(
      `| ${[
        model,
        weights,
        len === '0' ? '—' : len,
        ...cells((r) => (r?.error && r.promptTokens > 0 ? 'failed' : num(r?.prefillTokensPerSecond))),
        ...(withRatio ? [ratio(ours?.prefillTokensPerSecond, base?.prefillTokensPerSecond)] : []),
        ...cells((r) => (r?.error && r.promptTokens > 0 ? 'failed' : num(r?.decodeTokensPerSecond, 2))),
        ...(withRatio ? [ratio(ours?.decodeTokensPerSecond, base?.decodeTokensPerSecond)] : []),
        ...cells((r) => mib(r?.peakRssBytes)),
        note,
      ].join(' | ')} |`,
    );
  }
  return lines;
}

/** An error message in a table cell: its first line, at most 160 characters, without pipes. */
function short(m: string): string {
  const l = m.split('\n')[0]!.replace(/\|/g, '/').trim();
  return l.length > 160 ? `${l.slice(0, 157)}...` : l;
}

/** The compression table (time, its share of the prefill, decode after it and its gain over the full cache), and the sessions one. */
export function benchMethodTables(rows: BenchRow[]): string[] {
  const lines: string[] = [];
  const plain = rows.filter((r) => r.method === null);
  const find = (k: string) => plain.find((r) => r.engine === 'kvmerger' && `${r.model}|${r.weights}|${r.promptTokens}` === k);
  const comp = rows.filter((r) => r.method !== null);
  if (comp.length > 0) {
    lines.push('', '| model | weights | prompt | method | budget | compress ms | % of prefill | decode tok/s | × full cache |');
    lines.push('|---|---|---:|---|---:|---:|---:|---:|---:|');
    for (const r of comp) {
      const base = find(`${r.model}|${r.weights}|${r.promptTokens}`);
      const prefillMs = base?.prefillTokensPerSecond ? (r.promptTokens / base.prefillTokensPerSecond) * 1000 : null;
      const share = prefillMs && r.compressMs !== null ? `${((100 * r.compressMs) / prefillMs).toFixed(2)}%` : '—';
      lines.push(
        `| ${r.model} | ${r.weights} | ${r.promptTokens} | ${r.method} | ${r.budget} | ${num(r.compressMs)} | ${share} | ${num(r.decodeTokensPerSecond, 2)} | ${ratio(r.decodeTokensPerSecond, base?.decodeTokensPerSecond)} |`,
      );
    }
  }
  const sessions = comp.filter((r) => r.session?.peakRssBytes !== undefined && r.session.baseRssBytes !== undefined);
  if (sessions.length > 0) {
    // --compress-during-prefill: what one session held over the process it started in (weights as held)
    lines.push('', '| model | weights | prompt | method | budget | RSS at start MiB | full KV MiB | kept KV MiB | peak KV MiB | session peak RSS MiB | growth MiB | growth / full KV |');
    lines.push('|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of sessions) {
      const s = r.session!;
      const growth = s.peakRssBytes! - s.baseRssBytes!;
      lines.push(
        `| ${r.model} | ${r.weights} | ${r.promptTokens} | ${r.method} | ${r.budget} | ${mib(s.baseRssBytes!)} | ${mib(s.kvBytesFull)} | ${mib(s.kvBytes)} | ${mib(s.peakKvBytes)} | ` +
          `${mib(s.peakRssBytes!)} | ${mib(growth)} | ${(growth / s.kvBytesFull).toFixed(2)} |`,
      );
    }
  }
  return lines;
}

/**
 * The bench's whole text output: the main table (every engine side by side, ratios to native llama.cpp), then the
 * compression tables, then the notes.
 */
export function benchTable(rows: BenchRow[], notes: string[] = [], engines: BenchEngine[] = enginesOf(rows)): string {
  const lines = [...benchTableHeader(engines), ...benchTableRows(rows, engines), ...benchMethodTables(rows)];
  if (notes.length) lines.push('', ...notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
