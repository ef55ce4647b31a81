import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pearson, ratioPersistence } from '../../src/analysis/ratio-persistence.js';

const close = (a: number | null, b: number, eps = 1e-9) => assert.ok(a !== null && Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

test('pearson: ±1 for linear relations, a hand-computed case, null for a constant vector', () => {
  close(pearson([1, 2, 3], [2, 4, 6]), 1);
  close(pearson([1, 2, 3], [3, 2, 1]), -1);
  // x = [1,2,3,4], y = [1,3,2,4]: cov = 4, var x = var y = 5 → 0.8
  close(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8);
  assert.equal(pearson([0.5, 0.5, 0.5], [1, 2, 3]), null);
  assert.equal(pearson([1], [2]), null);
  assert.throws(() => pearson([1, 2], [1]), RangeError);
});

test('identical per-layer vectors: correlation 1, no spread, the layer explains everything', () => {
  const v = [0.9, 0.4, 0.6];
  const r = ratioPersistence([
    { task: 'a', ratios: v },
    { task: 'a', ratios: v },
    { task: 'b', ratios: v },
  ]);
  close(r.meanPairwisePearson, 1);
  close(r.withinTaskPearson, 1);
  close(r.acrossTaskPearson, 1);
  assert.deepEqual(r.pairs, { all: 3, within: 1, across: 2 });
  close(r.meanCv, 0);
  close(r.layerVarianceShare, 1);
  close(r.taskMeansPearson, 1);
  r.perLayer.forEach((p, l) => close(p.mean, v[l]!));
});

test('hand-computed spread, CV and within/across split', () => {
  const r = ratioPersistence([
    { task: 'a', ratios: [0.2, 0.4] },
    { task: 'a', ratios: [0.4, 0.2] },
    { task: 'b', ratios: [0.3, 0.6] },
  ]);
  // layer 0: 0.2, 0.4, 0.3 → mean 0.3, population std sqrt(0.02/3)
  close(r.perLayer[0]!.mean, 0.3);
  close(r.perLayer[0]!.std, Math.sqrt(0.02 / 3));
  close(r.perLayer[0]!.cv, Math.sqrt(0.02 / 3) / 0.3);
  assert.equal(r.perLayer[1]!.min, 0.2);
  assert.equal(r.perLayer[1]!.max, 0.6);
  // two-point vectors correlate ±1: (a0,a1) = −1, (a0,b) = +1, (a1,b) = −1
  close(r.withinTaskPearson, -1);
  close(r.acrossTaskPearson, 0);
  close(r.meanPairwisePearson, -1 / 3);
  assert.deepEqual(r.taskMeans['a']!.map((x) => +x.toFixed(9)), [0.3, 0.3]);
  assert.equal(r.taskMeansPearson, null); // task a's mean vector is constant
});
