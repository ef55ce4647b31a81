// Expected values computed by hand in the comments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logSoftmax, klDivergence, argmax, perplexity, FidelityAccumulator, summarizeFidelity } from '../../../src/eval/metrics/logit-metrics.js';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} vs ${b}`);

test('logSoftmax is exact and stable', () => {
  const a = logSoftmax([0, 0]);
  close(a[0]!, -Math.LN2);
  close(a[1]!, -Math.LN2);
  // [1000, 0]: log(1 + e^-1000) ≈ e^-1000 = 0 in float64 → [0, -1000]; a naive exp(1000) would overflow.
  const b = logSoftmax(new Float32Array([1000, 0]));
  close(b[0]!, 0);
  close(b[1]!, -1000);
  // [ln 1, ln 3] → probabilities 1/4, 3/4.
  const c = logSoftmax([0, Math.log(3)]);
  close(Math.exp(c[0]!), 0.25);
  close(Math.exp(c[1]!), 0.75);
});

test('KL(p_full ‖ p_compressed) by hand', () => {
  // p = (1/2, 1/2), q = (1/4, 3/4): KL = ½ ln(½ / ¼) + ½ ln(½ / ¾) = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3).
  close(klDivergence([0, 0], [0, Math.log(3)]), 0.5 * Math.log(4 / 3));
  // Reverse direction differs: KL(q ‖ p) = ¼ ln(½) + ¾ ln(3/2).
  close(klDivergence([0, Math.log(3)], [0, 0]), 0.25 * Math.log(0.5) + 0.75 * Math.log(1.5));
  // Identical up to a shift of all logits: 0.
  assert.equal(klDivergence([1, 2, 3], [6, 7, 8]), 0);
  // p puts no mass where q has none; q puts mass where p has none: finite.
  close(klDivergence([0, -Infinity], [0, 0]), Math.LN2); // 1 · ln(1 / ½)
});

test('argmax and perplexity', () => {
  assert.equal(argmax([0.1, 0.7, 0.7, 0.2]), 1);
  // log-probs ln ½ and ln ¼: mean NLL = (ln 2 + ln 4)/2 = 1.5 ln 2 → perplexity 2^1.5.
  close(perplexity([Math.log(0.5), Math.log(0.25)]), 2 ** 1.5);
});

test('FidelityAccumulator over two forced tokens', () => {
  const acc = new FidelityAccumulator();
  // Step 1: full p = (½, ½), compressed q = (¼, ¾), target 0. Argmax: full 0 (tie → first), compressed 1: disagree.
  acc.add([0, 0], [0, Math.log(3)], 0);
  // Step 2: both (¼, ¾), target 1: agree, KL 0.
  acc.add([0, Math.log(3)], [0, Math.log(3)], 1);
  const o = acc.result();
  assert.equal(o.tokens, 2);
  close(o.nllFull, Math.log(2) + Math.log(4 / 3)); // −ln ½ − ln ¾
  close(o.nllCompressed, Math.log(4) + Math.log(4 / 3)); // −ln ¼ − ln ¾
  close(o.klSum, 0.5 * Math.log(4 / 3));
  assert.equal(o.top1Agree, 1);
  const s = summarizeFidelity(o);
  close(s.pplFull, Math.sqrt(2 * (4 / 3))); // exp(mean NLL) = sqrt(2 · 4/3)
  close(s.pplCompressed, Math.sqrt(4 * (4 / 3)));
  close(s.pplRatio, Math.SQRT2);
  close(s.meanKL, 0.25 * Math.log(4 / 3));
  assert.equal(s.top1Agreement, 0.5);
  assert.throws(() => acc.add([0, 0], [0, 0], 5));
});
