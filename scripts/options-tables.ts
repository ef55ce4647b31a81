// Rewrites the options tables of docs/methods.md and docs/eval-tasks.md from the option declarations of the methods
// (src/compress/options-table.ts) and of the tasks (src/eval/tasks/options-table.ts).
// Usage: npx tsx scripts/options-tables.ts [--check]   (--check: exit 1 when the docs are not current)
import { readFileSync, writeFileSync } from 'node:fs';
import { withOptionsTable } from '../src/compress/options-table.js';
import { withTaskOptionsTable } from '../src/eval/tasks/options-table.js';

const check = process.argv.includes('--check');
let stale = false;
for (const [file, rewrite] of [
  ['methods.md', withOptionsTable],
  ['eval-tasks.md', withTaskOptionsTable],
] as const) {
  const path = new URL(`../docs/${file}`, import.meta.url);
  const doc = readFileSync(path, 'utf8');
  const next = rewrite(doc);
  if (next === doc) continue;
  if (check) {
    console.error(`docs/${file}: the options tables are out of date; run npx tsx scripts/options-tables.ts`);
    stale = true;
  } else {
    writeFileSync(path, next);
    console.error(`docs/${file}: options tables rewritten`);
  }
}
if (stale) process.exit(1);
