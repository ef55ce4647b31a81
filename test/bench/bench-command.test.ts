import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomGGUF } from '../../src/bench/bench-models.js';
import { smallConfig } from '../helpers/random-model.js';

const FIELDS = ['engine', 'model', 'weights', 'promptTokens', 'prefillTokensPerSecond', 'decodeTokensPerSecond', 'method', 'budget', 'compressMs', 'peakRssBytes'];

test('kvmerger bench --json: the rows of both engines on a tiny random GGUF, with exactly the documented fields', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-bench-test-'));
  try {
    const path = join(dir, 'tiny.gguf');
    writeRandomGGUF(path, smallConfig({ vocabSize: 320, blockCount: 2, embeddingLength: 64, feedForwardLength: 96 }), 'q8_0');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--models', path, '--lengths', '8,16', '--compress-lengths', '16', '--methods', 'h2o,cam', '--budgets', '0.5', '--decode', '2', '--threads', '1', '--json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { rows: Record<string, unknown>[] };
    assert.deepEqual(Object.keys(out), ['rows']);
    // plus "native" on llama.cpp-native rows, "error" on the rows of an engine that failed
    for (const row of out.rows) {
      const extra = [...(row.engine === 'llama.cpp-native' && row.error === undefined ? ['native'] : []), ...(row.error !== undefined ? ['error'] : [])];
      assert.deepEqual(Object.keys(row).sort(), [...FIELDS, ...extra].sort());
    }
    const ours = out.rows.filter((x) => x.engine === 'kvmerger');
    assert.deepEqual(ours.map((x) => [x.promptTokens, x.method, x.budget]), [[8, null, null], [16, null, null], [16, 'h2o', 0.5], [16, 'cam', 0.5]]);
    for (const x of ours) {
      assert.equal(x.model, 'tiny.gguf');
      assert.equal(x.weights, 'q8_0');
      assert.ok((x.prefillTokensPerSecond as number) > 0 && (x.decodeTokensPerSecond as number) > 0);
      assert.ok((x.peakRssBytes as number) > 1e6);
      assert.equal(x.method === null, x.compressMs === null);
    }
    // node-llama-cpp rows when it loads here (a dev dependency); never method rows.
    const theirs = out.rows.filter((x) => x.engine === 'node-llama-cpp');
    if (theirs.every((x) => x.error === undefined)) assert.deepEqual(theirs.map((x) => [x.promptTokens, x.method]), [[8, null], [16, null]]);
    else assert.match(r.stderr, /node-llama-cpp on tiny\.gguf q8_0 failed/);
    // native llama.cpp rows where it is built (npm run build:llama-cpp), else the one-line note
    const native = out.rows.filter((x) => x.engine === 'llama.cpp-native');
    if (native.length > 0) {
      assert.deepEqual(native.map((x) => [x.promptTokens, x.method]), [[8, null], [16, null]]);
      for (const x of native) assert.ok((x.prefillTokensPerSecond as number) > 0 && (x.decodeTokensPerSecond as number) > 0);
      assert.match((native[1]!.native as { commands: string[] }).commands[1]!, /-p 0 -n 2 -d 16 -t 1/);
    } else assert.match(r.stderr, /llama\.cpp-native: not built/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
