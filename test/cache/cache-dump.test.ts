import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVCache } from '../../src/cache/kv-cache.js';
import { cacheDump, writeCompressionDump } from '../../src/cache/cache-dump.js';

function small(): KVCache {
  const c = new KVCache(2, 2, 2, 4);
  c.layers.forEach((l, li) =>
    l.heads.forEach((h, hi) => {
      for (let t = 0; t < 3; t++) h.append(Float32Array.of(li, hi + t / 2), Float32Array.of(-t, 0.25), t);
    }),
  );
  return c;
}

test('cacheDump: the --dump-cache shape, slots in use only, per head', () => {
  const c = small();
  c.layers[1]!.heads[0]!.retain([0, 2]);
  c.layers[1]!.heads[0]!.mass[1] = 2;
  const d = cacheDump(c);
  assert.equal(d.layers.length, 2);
  assert.deepEqual(d.layers[0]!.heads[1], {
    keys: [[0, 1], [0, 1.5], [0, 2]],
    values: [[-0, 0.25], [-1, 0.25], [-2, 0.25]],
    positions: [0, 1, 2],
    mass: [1, 1, 1],
  });
  assert.deepEqual(d.layers[1]!.heads[0], { keys: [[1, 0], [1, 1]], values: [[-0, 0.25], [-2, 0.25]], positions: [0, 2], mass: [1, 2] });
});

test('writeCompressionDump writes {before, after, stats} as valid JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvdump-'));
  try {
    const before = small();
    const after = before.clone();
    after.layers[0]!.heads[0]!.retain([2]);
    const att = [[[0.5, 0.25, 0.25], [1, 1, 1]], [[0, 0, 1], [0, 1, 0]]];
    const file = join(dir, 'd.json');
    writeCompressionDump(file, before, after, att);
    const j = JSON.parse(readFileSync(file, 'utf8')) as { before: unknown; after: { layers: { heads: { positions: number[] }[] }[] }; stats: unknown };
    assert.deepEqual(j.before, JSON.parse(JSON.stringify(cacheDump(before))));
    assert.deepEqual(j.after.layers[0]!.heads[0]!.positions, [2]);
    assert.deepEqual(j.stats, { aggregatedAttention: att });
    writeCompressionDump(file, before, after);
    assert.deepEqual((JSON.parse(readFileSync(file, 'utf8')) as { stats: unknown }).stats, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
