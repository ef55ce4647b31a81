import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createFidelityTask } from '../../../src/eval/tasks/fidelity-task.js';
import { FidelityAccumulator } from '../../../src/eval/metrics/logit-metrics.js';
import { KvError } from '../../../src/util/errors.js';
import { charTokenizer, wordTokenizer } from '../../helpers/toy-tokenizers.js';
import { sharedData } from '../../helpers/shared-data.js';

test('fidelity documents: T prompt + k continuation tokens from held-out books (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const task = createFidelityTask('fidelity');
  const tok = wordTokenizer();
  const samples = task.samples({ seed: 3, tokenizer: tok, lengths: [300, 600], count: 2, dataRoot: root, options: { k: 50 } });
  assert.equal(samples.length, 4);
  for (const s of samples) {
    assert.equal(s.mode, 'teacher-force');
    assert.equal(s.promptIds!.length, s.contextLength);
    assert.equal(s.continuationIds!.length, 50);
    assert.equal(s.prompt, tok.decode(s.promptIds!));
  }
  assert.notDeepEqual(samples[0]!.promptIds, samples[1]!.promptIds);
  // Seeded: the same options give the same documents; another seed gives others.
  const again = task.samples({ seed: 3, tokenizer: tok, lengths: [300], count: 1, dataRoot: root, options: { k: 50 } });
  assert.deepEqual(again[0], samples[0]);
  const stream = createFidelityTask('ppl-stream').samples({ seed: 3, tokenizer: charTokenizer, lengths: [500], dataRoot: root, options: { split: 'haystack' } });
  assert.equal(stream[0]!.promptIds!.length, 64);
  assert.equal(stream[0]!.continuationIds!.length, 436);
  assert.equal(stream[0]!.meta.decodeCompression, true);
  assert.throws(() => createFidelityTask('ppl-stream').samples({ seed: 0, tokenizer: charTokenizer, lengths: [64], dataRoot: root }), KvError);
});

test('fidelity score: top-1 agreement plus perplexities and KL', () => {
  const task = createFidelityTask('fidelity');
  const acc = new FidelityAccumulator();
  acc.add([0, 0], [0, Math.log(3)], 0);
  acc.add([0, Math.log(3)], [0, Math.log(3)], 1);
  const s = task.score({} as never, acc.result());
  assert.equal(s.score, 0.5);
  assert.ok(Math.abs(s.metrics.meanKL! - 0.25 * Math.log(4 / 3)) < 1e-12);
  assert.ok(Math.abs(s.metrics.pplRatio! - Math.SQRT2) < 1e-12);
});
