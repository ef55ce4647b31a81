import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeRandomGGUF } from '../../src/bench/bench-models.js';
import type { BenchRow } from '../../src/bench/bench-row.js';
import { smallConfig } from '../helpers/random-model.js';

test('kvmerger bench --compress-during-prefill: one session per method, KV bytes counted by hand, session memory present', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-bench-dp-'));
  try {
    const path = join(dir, 'tiny.gguf');
    const c = smallConfig({ vocabSize: 320, blockCount: 2, embeddingLength: 64, feedForwardLength: 96 });
    writeRandomGGUF(path, c, 'f32');
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--models', path, '--lengths', '16', '--compress-lengths', '16', '--methods', 'h2o,kvmerger',
        '--budgets', '0.5', '--decode', '2', '--chunk', '4', '--threads', '1', '--engines', 'kvmerger', '--compress-during-prefill', '--json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const rows = (JSON.parse(r.stdout) as { rows: BenchRow[] }).rows;
    // the sessions run first, right after the load (so they start from the weights as held), then the plain rows
    assert.deepEqual(rows.map((x) => [x.method, x.budget]), [['h2o', 0.5], ['kvmerger', 0.5], [null, null]]);
    const slot = c.blockCount * c.headCountKv * c.headDim * 2 * 2; // bytes of one slot in every head (f16 cache, the default)
    assert.deepEqual(rows[2]!.session && [rows[2]!.session.kvBytes, rows[2]!.session.kvBytesFull], [16 * slot, 16 * slot]);
    for (const x of rows.slice(0, 2)) {
      const s = x.session!;
      // b = 8 per head, chunks of 4: appended 4, 8, 12 → 8, 12 → 8, 12 → 8: 3 rounds, peak 12 slots
      assert.equal(s.kvBytes, 8 * slot, x.method!);
      assert.equal(s.kvBytesFull, 16 * slot);
      assert.equal(s.peakKvBytes, 12 * slot);
      assert.equal(s.compressRounds, 2);
      assert.ok(s.baseRssBytes! > 1e6 && s.peakRssBytes! >= s.baseRssBytes! * 0.5, JSON.stringify(s));
      assert.ok(s.decodeCpuMsPerToken > 0 && x.compressMs! >= 0 && x.decodeTokensPerSecond! > 0);
    }
    // --kv-type f32: the cache holds 4 bytes per element
    const f32 = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--models', path, '--lengths', '16', '--compress-lengths', '16', '--methods', 'h2o',
        '--budgets', '0.5', '--decode', '2', '--chunk', '4', '--threads', '1', '--engines', 'kvmerger', '--compress-during-prefill', '--kv-type', 'f32', '--json'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(f32.status, 0, f32.stderr);
    const rows32 = (JSON.parse(f32.stdout) as { rows: BenchRow[] }).rows;
    assert.deepEqual(rows32.map((x) => [x.session?.kvBytes, x.session?.kvBytesFull]), [[16 * slot, 32 * slot], [32 * slot, 32 * slot]]);
    // a named method that cannot is refused up front
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', '--models', path, '--methods', 'snapkv', '--compress-during-prefill'], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--compress-during-prefill: snapkv scores tokens/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
