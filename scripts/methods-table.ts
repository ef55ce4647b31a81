// Rewrites the options tables of docs/methods.md from the methods' option declarations (src/compress/options-table.ts).
// Usage: npx tsx scripts/methods-table.ts [--check]   (--check: exit 1 when the docs are not current)
import { readFileSync, writeFileSync } from 'node:fs';
import { withOptionsTable } from '../src/compress/options-table.js';

const path = new URL('../docs/methods.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const next = withOptionsTable(doc);
if (process.argv.includes('--check')) {
  if (next !== doc) {
    console.error('docs/methods.md: the options tables are out of date; run npx tsx scripts/methods-table.ts');
    process.exit(1);
  }
} else if (next !== doc) {
  writeFileSync(path, next);
  console.error('docs/methods.md: options tables rewritten');
}
