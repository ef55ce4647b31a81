import { describeOptionType } from './method-options.js';
import { METHODS } from './registry.js';
import { withGeneratedBlock } from '../util/generated-block.js';

/**
 * The options of every method as Markdown tables, from the methods' own declarations (docs/methods.md,
 * "Options of every method", between the `options-table` markers; `npx tsx scripts/options-tables.ts` rewrites it
 * and a test checks it is current).
 */
export function optionsTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const out: string[] = [];
  for (const m of METHODS.values()) {
    out.push(`**${m.name}** — ${cell(m.description)}`, '');
    if (m.options.length === 0) {
      out.push('No options.', '');
      continue;
    }
    out.push('| option | values | default | what it does |', '|---|---|---|---|');
    for (const o of m.options) out.push(`| \`${o.name}\` | ${cell(describeOptionType(o))} | \`${String(o.default)}\` | ${cell(o.description)} |`);
    out.push('');
  }
  return out.join('\n');
}

export const OPTIONS_TABLE_BEGIN = '<!-- options-table: generated from the option declarations by scripts/options-tables.ts -->';
export const OPTIONS_TABLE_END = '<!-- /options-table -->';

/** `doc` with the text between the markers replaced by the current table; throws when the markers are missing. */
export function withOptionsTable(doc: string): string {
  return withGeneratedBlock(doc, OPTIONS_TABLE_BEGIN, OPTIONS_TABLE_END, optionsTable());
}
