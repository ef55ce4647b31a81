import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { withOptionsTable } from '../../src/compress/options-table.js';
import { METHODS } from '../../src/compress/registry.js';

test('docs/methods.md lists every option as the declarations say (npx tsx scripts/options-tables.ts rewrites it)', () => {
  const doc = readFileSync(new URL('../../docs/methods.md', import.meta.url), 'utf8');
  assert.equal(withOptionsTable(doc), doc, 'the options tables of docs/methods.md are stale: run npx tsx scripts/options-tables.ts');
  for (const m of METHODS.values()) for (const o of m.options) assert.ok(doc.includes(`| \`${o.name}\` |`), `${m.name}.${o.name} is documented`);
});
