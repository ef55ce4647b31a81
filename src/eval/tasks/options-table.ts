import { describeOptionType, type OptionSpec } from '../../util/option-declarations.js';
import { withGeneratedBlock } from '../../util/generated-block.js';
import { listTasks } from './registry.js';

/**
 * The options of every task as Markdown tables, from the tasks' own declarations (docs/eval-tasks.md, "Task
 * options", between the `task-options-table` markers; `npx tsx scripts/options-tables.ts` rewrites it and a test
 * checks it is current). Tasks with the same options share one table.
 */
export function taskOptionsTable(): string {
  // Markdown: a | ends the cell, and <data> would be read as an HTML tag.
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const groups = new Map<string, { names: string[]; specs: readonly OptionSpec[] }>();
  for (const t of listTasks()) {
    const key = JSON.stringify(t.options);
    const g = groups.get(key);
    if (g) g.names.push(t.name);
    else groups.set(key, { names: [t.name], specs: t.options });
  }
  const out: string[] = [];
  const none: string[] = [];
  for (const { names, specs } of groups.values()) {
    if (specs.length === 0) {
      none.push(...names);
      continue;
    }
    out.push(names.map((n) => `**${n}**`).join(', '), '');
    out.push('| option | values | default | what it does |', '|---|---|---|---|');
    for (const o of specs) out.push(`| \`${o.name}\` | ${cell(describeOptionType(o))} | ${o.default === undefined ? '—' : `\`${String(o.default)}\``} | ${cell(o.description)} |`);
    out.push('');
  }
  if (none.length > 0) out.push(`No options: ${none.join(', ')}.`, '');
  return out.join('\n');
}

export const TASK_OPTIONS_TABLE_BEGIN = '<!-- task-options-table: generated from the option declarations by scripts/options-tables.ts -->';
export const TASK_OPTIONS_TABLE_END = '<!-- /task-options-table -->';

/** `doc` with the text between the markers replaced by the current tables; throws when the markers are missing. */
export function withTaskOptionsTable(doc: string): string {
  return withGeneratedBlock(doc, TASK_OPTIONS_TABLE_BEGIN, TASK_OPTIONS_TABLE_END, taskOptionsTable());
}
