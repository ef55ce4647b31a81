import type { BenchRow } from './bench-row.js';

const MiB = 2 ** 20;
const num = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(digits));
const ratio = (a: number | null | undefined, b: number | null | undefined): string => (a && b ? (a / b).toFixed(2) : '—');

/**
 * The bench's text output: one markdown table of prefill/decode per model, weights and length with our/llama.cpp
 * ratios and peak RSS, then one of compression (time, its share of the prefill time, decode after it and its gain
 * over the full cache's decode).
 */
export function benchTable(rows: BenchRow[], notes: string[] = []): string {
  const lines: string[] = [];
  const plain = rows.filter((r) => r.method === null);
  const keys = [...new Set(plain.map((r) => `${r.model}|${r.weights}|${r.promptTokens}`))];
  const find = (engine: string, k: string) => plain.find((r) => r.engine === engine && `${r.model}|${r.weights}|${r.promptTokens}` === k);
  lines.push('| model | weights | prompt | prefill tok/s ours | llama.cpp | ratio | decode tok/s ours | llama.cpp | ratio | peak RSS MiB ours | llama.cpp |');
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const k of keys) {
    const ours = find('kvmerger', k);
    const them = find('llama.cpp', k);
    const [model, weights, len] = k.split('|');
    lines.push(
      `| ${model} | ${weights} | ${len} | ${num(ours?.prefillTokensPerSecond)} | ${num(them?.prefillTokensPerSecond)} | ${ratio(ours?.prefillTokensPerSecond, them?.prefillTokensPerSecond)} | ` +
        `${num(ours?.decodeTokensPerSecond, 2)} | ${num(them?.decodeTokensPerSecond, 2)} | ${ratio(ours?.decodeTokensPerSecond, them?.decodeTokensPerSecond)} | ` +
        `${ours?.peakRssBytes ? (ours.peakRssBytes / MiB).toFixed(0) : '—'} | ${them?.peakRssBytes ? (them.peakRssBytes / MiB).toFixed(0) : '—'} |`,
    );
  }
  const comp = rows.filter((r) => r.method !== null);
  if (comp.length > 0) {
    lines.push('', '| model | weights | prompt | method | budget | compress ms | % of prefill | decode tok/s | × full cache |');
    lines.push('|---|---|---:|---|---:|---:|---:|---:|---:|');
    for (const r of comp) {
      const base = find('kvmerger', `${r.model}|${r.weights}|${r.promptTokens}`);
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
      const mib = (x: number) => (x / MiB).toFixed(0);
      lines.push(
        `| ${r.model} | ${r.weights} | ${r.promptTokens} | ${r.method} | ${r.budget} | ${mib(s.baseRssBytes!)} | ${mib(s.kvBytesFull)} | ${mib(s.kvBytes)} | ${mib(s.peakKvBytes)} | ` +
          `${mib(s.peakRssBytes!)} | ${mib(growth)} | ${(growth / s.kvBytesFull).toFixed(2)} |`,
      );
    }
  }
  if (notes.length) lines.push('', ...notes.map((n) => `note: ${n}`));
  return lines.join('\n');
}
