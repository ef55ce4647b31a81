/**
 * A local grid run needs no Redis: bullmq is imported only by src/eval/grid/queue/{coordinator,worker}.ts, and those are
 * reached from the command line only through `await import(...)` (eval with --queue, the worker command).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'src');
const files = (dir: string, out: string[] = []): string[] => {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (n.endsWith('.ts')) out.push(p);
  }
  return out;
};

test('bullmq and the queue modules are only imported lazily outside src/eval/grid/queue', () => {
  const staticImport = /^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm;
  for (const f of files(src)) {
    const rel = relative(src, f);
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(staticImport)) {
      const spec = m[1]!;
      const typeOnly = /^\s*(?:import|export)\s+type\s/.test(m[0]);
      if (spec === 'bullmq' || spec === 'ioredis') assert.ok(rel.startsWith('eval/grid/queue/') && rel !== 'eval/grid/queue/jobs.ts', `${rel} imports ${spec} statically`);
      if (!rel.startsWith('eval/grid/queue/') && /\/queue\/(coordinator|worker|eval-queued)\.js$/.test(spec)) assert.ok(typeOnly, `${rel} imports ${spec} statically`);
    }
  }
});
