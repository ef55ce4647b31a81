import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadCache } from '../../src/cache/head-cache.js';
import { camCompressHead, camGate, camMerge } from '../../src/compress/methods/cam.js';
import { Rng } from '../../src/util/rng.js';

/** The definition: evicted slots leave the window one at a time, each merged (if its gate fires) into the next W. */
function naiveWindow(head: HeadCache, b: number, recent: number, M: number, gate: Float32Array, rng: Rng): number {
  const n = head.length;
  const start = b - recent;
  const W = Math.min(M, recent);
  let merged = 0;
  for (let e = start; e < n - recent; e++) {
    const targets: number[] = [];
    for (let t = e + 1; t < Math.min(n, e + 1 + W); t++) targets.push(t);
    if (camMerge(head, e, targets, camGate(gate[e]!, targets.map((t) => gate[t]!)), M, rng)) merged++;
  }
  const keep = [...Array(start).keys(), ...Array.from({ length: recent }, (_, i) => n - recent + i)];
  head.retain(keep);
  return merged;
}

function randomHead(n: number, d: number, seed: number): HeadCache {
  const rng = new Rng(seed);
  const h = new HeadCache(d, n);
  for (let i = 0; i < n * d; i++) {
    h.keys[i] = rng.next() - 0.5;
    h.values[i] = rng.next() - 0.5;
  }
  for (let i = 0; i < n; i++) h.positions[i] = i;
  h.length = n;
  return h;
}

test('CaM window eviction: the one-pass sliding sum equals merging one evicted slot at a time', () => {
  for (const [n, b, recent, M] of [
    [200, 60, 30, 8],
    [200, 60, 40, 32],
    [97, 20, 5, 16],
    [64, 63, 1, 4],
  ] as const) {
    const gateRng = new Rng(n + b);
    const gate = Float32Array.from({ length: n }, () => (gateRng.next() < 0.2 ? 0 : gateRng.next()));
    const a = randomHead(n, 8, 3);
    const z = randomHead(n, 8, 3);
    const mergedFast = camCompressHead(a, b, { recent, mergeWindow: M, eviction: 'window', gate, selectScores: gate }, new Rng(9), 0);
    const mergedNaive = naiveWindow(z, b, recent, M, gate, new Rng(9));
    assert.equal(mergedFast, mergedNaive, `merges n=${n} b=${b}`);
    assert.ok(mergedFast > 0, 'some merges fired');
    assert.equal(a.length, b);
    assert.deepEqual(Array.from(a.positions.subarray(0, b)), Array.from(z.positions.subarray(0, b)));
    let diff = 0;
    for (let i = 0; i < b * 8; i++) diff = Math.max(diff, Math.abs(a.values[i]! - z.values[i]!));
    assert.ok(diff < 1e-5, `values n=${n} b=${b}: max diff ${diff}`);
  }
});
