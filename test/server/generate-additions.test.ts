// What the server needs from the session (src/generate): an abort signal, a turn-taking hook, per-token
// log-probabilities, and the sampler's min-p.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import { generate, tokenizePrompt } from '../../src/generate/session.js';
import type { SessionModel } from '../../src/generate/session-model.js';
import { Sampler } from '../../src/generate/sampler.js';
import { tokenLogprobs } from '../../src/generate/logprobs.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';

function model(): SessionModel {
  const config = smallConfig({ contextLength: 64 });
  return { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, 1, { scale: 2 })) };
}

test('an aborted signal stops the decode loop with what was generated (aborted: true); before the prefill it throws', async () => {
  const m = model();
  const ac = new AbortController();
  let n = 0;
  const r = await generate(m, {
    prompt: 'hello',
    maxTokens: 20,
    stopAtEos: false,
    signal: ac.signal,
    onToken: () => {
      if (++n === 3) ac.abort();
    },
  });
  assert.equal(r.aborted, true);
  assert.equal(r.tokens.length, 3);
  assert.equal(r.stopReason, 'length');
  const gone = new AbortController();
  gone.abort(new Error('client went away'));
  await assert.rejects(generate(m, { prompt: 'hello', maxTokens: 5, signal: gone.signal }), /client went away/);
  // not aborted: no field
  const full = await generate(m, { prompt: 'hello', maxTokens: 4, stopAtEos: false, signal: new AbortController().signal });
  assert.equal(full.aborted, undefined);
  assert.equal(full.tokens.length, 4);
});

test('beforeStep is awaited before each decode forward pass', async () => {
  const m = model();
  let steps = 0;
  const r = await generate(m, {
    prompt: 'ab',
    maxTokens: 5,
    stopAtEos: false,
    beforeStep: async () => {
      steps++;
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
  assert.equal(r.tokens.length, 5);
  assert.equal(steps, 4); // the last sampled token is not run through the model
});

test('logprobs: the chosen token and the top alternatives are log-softmax of the logits', async () => {
  const logits = Float32Array.of(1, 3, 2, 3, -1);
  const lp = tokenLogprobs(logits, 2, 3);
  const z = Math.log([...logits].reduce((a, x) => a + Math.exp(x), 0));
  assert.ok(Math.abs(lp.logprob - (2 - z)) < 1e-6);
  assert.deepEqual(lp.top.map((t) => t.id), [1, 3, 2]);
  assert.ok(Math.abs(lp.top[0]!.logprob - (3 - z)) < 1e-6);
  assert.deepEqual(tokenLogprobs(logits, 0, 0).top, []);
  const m = model();
  const seen: number[] = [];
  const r = await generate(m, {
    prompt: 'hi',
    maxTokens: 4,
    stopAtEos: false,
    logprobs: 2,
    onToken: (id, l) => {
      assert.equal(l!.id, id);
      assert.equal(l!.top.length, 2);
      // greedy: the chosen token is the most likely one
      assert.equal(l!.top[0]!.id, id);
      assert.ok(l!.logprob <= 0);
      seen.push(id);
    },
  });
  assert.deepEqual(seen, r.tokens);
  await assert.rejects(generate(m, { prompt: 'hi', logprobs: 21 }), /logprobs must be an integer in \[0, 20\]/);
});

test('min-p keeps the tokens at least minP times as likely as the best one', () => {
  // probabilities ∝ e^logit: 1, e^-1 ≈ 0.37, e^-3 ≈ 0.05
  const logits = Float32Array.of(0, -1, -3);
  const s = new Sampler({ temperature: 1, minP: 0.2 });
  assert.deepEqual([...s.distribution(logits).ids], [0, 1]);
  assert.deepEqual([...new Sampler({ temperature: 1, minP: 0 }).distribution(logits).ids], [0, 1, 2]);
  assert.deepEqual([...new Sampler({ temperature: 1, minP: 1 }).distribution(logits).ids], [0]);
  assert.throws(() => new Sampler({ minP: 1.5 }), /min-p must be in \[0, 1\]/);
});

test('tokenizePrompt gives the ids generate uses', () => {
  const m = model();
  assert.deepEqual(tokenizePrompt(m, { prompt: 'abc' }), m.tokenizer.encode('abc', { addSpecial: true }));
});
