import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  circularSlice,
  haystackTokens,
  loadHaystackCorpus,
  sentenceBoundaryBefore,
  splitAtDepth,
  type HaystackCorpus,
} from '../../../src/eval/tasks/haystack.js';
import { fitToTokens } from '../../../src/eval/tasks/fit-to-tokens.js';
import { charTokenizer, wordTokenizer } from '../../helpers/toy-tokenizers.js';
import { KvError } from '../../../src/util/errors.js';
import { sharedData } from '../../helpers/shared-data.js';

const corpus: HaystackCorpus = {
  id: 'test',
  source: 'gutenberg',
  text: 'One two. Three four five! Six "seven." Eight\n\nNine ten.',
  paragraphStarts: [0, 46],
};

test('sentenceBoundaryBefore snaps back to the end of a sentence', () => {
  const t = corpus.text;
  assert.equal(sentenceBoundaryBefore(t, 0), 0);
  assert.equal(sentenceBoundaryBefore(t, 8), 8); // right after "two."
  assert.equal(sentenceBoundaryBefore(t, 12), 8); // inside "Three"
  assert.equal(sentenceBoundaryBefore(t, 30), 25); // after "five!"
  assert.equal(sentenceBoundaryBefore(t, 40), 38); // after 'seven."' (closing quote kept)
});

test('circularSlice wraps around with a blank line', () => {
  assert.equal(circularSlice(corpus, 46, 15), 'Nine ten.\n\nOne ');
});

test('haystackTokens returns exactly n tokens from the start offset', () => {
  const tok = wordTokenizer();
  const ids = haystackTokens(corpus, 0, 5, tok);
  assert.equal(ids.length, 5);
  assert.equal(tok.decode(ids), 'One two. Three');
  // Longer than the corpus: it wraps.
  const long = haystackTokens(corpus, 0, 40, tok);
  assert.equal(long.length, 40);
  assert.ok(tok.decode(long).includes('ten.\n\nOne two.'));
});

test('splitAtDepth cuts at a sentence boundary before the depth', () => {
  const tok = charTokenizer;
  const ids = tok.encode('Aa bb. Cc dd. Ee ff. Gg hh.'); // 27 chars
  // depth 50 → token 13 = just after "dd." → boundary at 13.
  assert.deepEqual(splitAtDepth(ids, 50, tok), { before: 'Aa bb. Cc dd.', after: 'Ee ff. Gg hh.' });
  // depth 45 → token 12 (inside "dd.") → snaps back to "bb."
  assert.deepEqual(splitAtDepth(ids, 45, tok), { before: 'Aa bb.', after: 'Cc dd. Ee ff. Gg hh.' });
  assert.deepEqual(splitAtDepth(ids, 0, tok), { before: '', after: 'Aa bb. Cc dd. Ee ff. Gg hh.' });
  assert.deepEqual(splitAtDepth(ids, 100, tok), { before: 'Aa bb. Cc dd. Ee ff. Gg hh.', after: '' });
  assert.throws(() => splitAtDepth(ids, 101, tok), KvError);
});

test('fitToTokens finds the largest size that fits', () => {
  // Prompt = "Q " + n × "ab " + "?" → with the char tokenizer: 3 + 3n chars.
  const build = (n: number) => 'Q ' + 'ab '.repeat(n) + '?';
  const f = fitToTokens(build, charTokenizer, 100, { max: 1000, guess: 10, what: 'test' });
  assert.equal(f.n, 32); // 3 + 96 = 99 ≤ 100; n = 33 gives 102
  assert.equal(f.tokens, 99);
  const capped = fitToTokens(build, charTokenizer, 100, { max: 20, what: 'test' });
  assert.equal(capped.n, 20);
  assert.throws(() => fitToTokens(build, charTokenizer, 2, { max: 10, what: 'test' }), KvError);
});

test('the real corpora fill to exact token counts (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const tok = wordTokenizer();
  for (const source of ['gutenberg', 'essays'] as const) {
    const c = loadHaystackCorpus(source, root);
    const ids = haystackTokens(c, 0, 3000, tok);
    assert.equal(ids.length, 3000);
    const { before, after } = splitAtDepth(ids, 50, tok);
    assert.match(before, /[.!?]["'”’)\]]*$/);
    assert.ok(before.length > 0 && after.length > 0);
  }
});

test('trimToSentence drops a cut-off last sentence', async () => {
  const { trimToSentence } = await import('../../../src/eval/tasks/haystack.js');
  assert.equal(trimToSentence('One. Two! Thr'), 'One. Two!');
  assert.equal(trimToSentence('One. Two!'), 'One. Two!');
  assert.equal(trimToSentence('no end'), '');
});
