// The load benchmark runs end to end on a tiny load (it starts `kvmerger serve` as a child on 127.0.0.1 and stops
// by itself) and reports what docs/benchmarks.md records.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('load-bench: 6 requests, 3 at once, with and without kv_compression: 0 errors, latencies and RSS', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/load-bench.ts', '--requests', '6', '--concurrency', '3', '--max-tokens', '3', '--threads', '1', '--kv', 'none', '--kv', 'kvmerger:0.5', '--deadline', '120', '--json'], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const rows = JSON.parse(r.stdout.trim()) as { kv: string; requests: number; errors: number; latencyMs: { p50: number; p99: number }; rssBeforeMiB: number; rssAfterMiB: number; completionTokens: number }[];
  assert.deepEqual(rows.map((x) => x.kv), ['none', 'kvmerger 0.5']);
  for (const row of rows) {
    assert.equal(row.requests, 6);
    assert.equal(row.errors, 0);
    assert.ok(row.completionTokens > 0 && row.completionTokens <= 18);
    assert.ok(row.latencyMs.p50 > 0 && row.latencyMs.p99 >= row.latencyMs.p50);
    assert.ok(row.rssBeforeMiB > 10 && row.rssAfterMiB > 10);
  }
});
