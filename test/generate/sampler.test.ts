import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler, argmax } from '../../src/generate/sampler.js';

const L = (...v: number[]) => Float32Array.from(v);
const near = (a: ArrayLike<number>, b: number[], tol = 1e-9) => {
  assert.equal(a.length, b.length, `${[...(a as number[])]} vs ${b}`);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < tol, `index ${i}: ${a[i]} vs ${b[i]}`);
};

test('greedy: argmax, lowest id on ties', () => {
  const s = new Sampler({ temperature: 0 });
  assert.equal(s.sample(L(0.1, 3, -1, 3)), 1);
  assert.equal(argmax([1, 5, 5]), 1);
});

test('temperature: softmax(logits / T)', () => {
  // logits ln 1, ln 2, ln 3, ln 4 at T = 1 → 0.1, 0.2, 0.3, 0.4; at T = 0.5 squares: 1, 4, 9, 16 over 30
  const logits = L(0, Math.log(2), Math.log(3), Math.log(4));
  const d1 = new Sampler({ temperature: 1 }).distribution(logits);
  assert.deepEqual([...d1.ids], [3, 2, 1, 0]);
  near(d1.probs, [0.4, 0.3, 0.2, 0.1], 1e-7);
  const d2 = new Sampler({ temperature: 0.5 }).distribution(logits);
  near(d2.probs, [16 / 30, 9 / 30, 4 / 30, 1 / 30], 1e-6);
});

test('top-k keeps the k most likely and renormalises', () => {
  const logits = L(0, Math.log(2), Math.log(3), Math.log(4));
  const d = new Sampler({ temperature: 1, topK: 2 }).distribution(logits);
  assert.deepEqual([...d.ids], [3, 2]);
  near(d.probs, [4 / 7, 3 / 7], 1e-7);
});

test('top-p keeps the smallest prefix reaching p', () => {
  const logits = L(0, Math.log(2), Math.log(3), Math.log(4)); // 0.4, 0.3, 0.2, 0.1
  const d = new Sampler({ temperature: 1, topP: 0.7 }).distribution(logits);
  assert.deepEqual([...d.ids], [3, 2]); // 0.4 + 0.3 = 0.7 ≥ 0.7
  near(d.probs, [4 / 7, 3 / 7], 1e-6);
  const e = new Sampler({ temperature: 1, topP: 0.75 }).distribution(logits);
  assert.deepEqual([...e.ids], [3, 2, 1]);
  near(e.probs, [4 / 9, 3 / 9, 2 / 9], 1e-6);
  const one = new Sampler({ temperature: 1, topP: 0.01 }).distribution(logits);
  assert.deepEqual([...one.ids], [3]);
  // after top-k the nucleus is taken from the renormalised top-k mass: 4/9, 3/9, 2/9 → p 0.7 needs 3 tokens
  const kp = new Sampler({ temperature: 1, topK: 3, topP: 0.7 }).distribution(logits);
  assert.deepEqual([...kp.ids], [3, 2]); // 4/9 + 3/9 = 0.78 ≥ 0.7
});

test('repetition penalty divides positive logits and multiplies negative ones, each token once', () => {
  const s = new Sampler({ repeatPenalty: 2, repeatLastN: 3 });
  const out = s.penalise(L(4, -1, 3, 2, 5), [4, 0, 1, 1]);
  // the last 3 tokens are 0, 1, 1 → ids 0 and 1; token 4 is older than the window
  assert.deepEqual([...out], [2, -2, 3, 2, 5]);
  // greedy with penalty: id 4 (5) stays best; penalise it and id 2 wins
  assert.equal(new Sampler({ repeatPenalty: 2 }).sample(L(4, -1, 3, 2, 5), [4]), 0);
});

test('draws follow the distribution and the seed fixes the sequence', () => {
  const logits = L(0, Math.log(2), Math.log(3), Math.log(4));
  const s = new Sampler({ temperature: 1, seed: 123 });
  const counts = [0, 0, 0, 0];
  const n = 20000;
  const seq: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = s.sample(logits);
    counts[id]!++;
    if (i < 20) seq.push(id);
  }
  near(counts.map((c) => c / n), [0.1, 0.2, 0.3, 0.4], 0.015);
  const again = new Sampler({ temperature: 1, seed: 123 });
  assert.deepEqual(Array.from({ length: 20 }, () => again.sample(logits)), seq);
  const other = new Sampler({ temperature: 1, seed: 124 });
  assert.notDeepEqual(Array.from({ length: 20 }, () => other.sample(logits)), seq);
});

test('bad options are clear errors', () => {
  assert.throws(() => new Sampler({ temperature: -1 }), /--temperature/);
  assert.throws(() => new Sampler({ topP: 0 }), /--top-p/);
  assert.throws(() => new Sampler({ topK: 1.5 }), /--top-k/);
  assert.throws(() => new Sampler({ repeatPenalty: 0 }), /--repeat-penalty/);
});
