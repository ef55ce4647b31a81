import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { withTaskOptionsTable } from '../../../src/eval/tasks/options-table.js';
import { listTasks } from '../../../src/eval/tasks/registry.js';

test('docs/eval-tasks.md lists every task option as the declarations say (npx tsx scripts/options-tables.ts rewrites it)', () => {
  const doc = readFileSync(new URL('../../../docs/eval-tasks.md', import.meta.url), 'utf8');
  assert.equal(withTaskOptionsTable(doc), doc, 'the task options tables of docs/eval-tasks.md are stale: run npx tsx scripts/options-tables.ts');
  const table = doc.slice(doc.indexOf('<!-- task-options-table'), doc.indexOf('<!-- /task-options-table'));
  for (const t of listTasks()) {
    assert.ok(table.includes(t.options.length ? `**${t.name}**` : ` ${t.name}`), `${t.name} is in the tables`);
    for (const o of t.options) assert.ok(table.includes(`| \`${o.name}\` |`), `${t.name}.${o.name} is documented`);
  }
});
