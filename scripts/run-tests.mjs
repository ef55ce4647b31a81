#!/usr/bin/env node
// Runs every test/**/*.test.ts with node's own test runner (through tsx), so CI reads its summary line.
// Usage: node scripts/run-tests.mjs [filter-substring ...]
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect('test', []).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// The models tests load are compiled into a model cache of their own, removed afterwards (not the user's).
const onnxCache = mkdtempSync(join(tmpdir(), 'kvmerger-test-onnx-cache-'));
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, KVMERGER_ONNX_CACHE: onnxCache } },
);
rmSync(onnxCache, { recursive: true, force: true });
process.exit(r.status ?? 1);
