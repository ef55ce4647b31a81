import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNeedleTask } from '../../../src/eval/tasks/needle-task.js';
import { loadNiahDefaults, linspaceRounded } from '../../../src/eval/tasks/niah-defaults.js';
import { PARAPHRASED_NEEDLES } from '../../../src/eval/tasks/paraphrased-needles.js';
import { KvError } from '../../../src/util/errors.js';
import { charTokenizer, wordTokenizer } from '../../helpers/toy-tokenizers.js';
import { sharedData } from '../../helpers/shared-data.js';
import { tinyDataRoot } from '../fixtures.js';

const dataRoot = tinyDataRoot();
const essays = { haystack: 'essays' };
const PASSKEY = /^(.*) The pass key is (\d{5})\. Remember it\. \2 is the pass key\.( .*)?\nWhat is the pass key\? The pass key is$/s;

test('passkey: the trained format, filled to L tokens, needle near the depth', () => {
  const task = createNeedleTask('passkey');
  const samples = task.samples({ seed: 1, tokenizer: charTokenizer, lengths: [800, 1500], depths: [25, 50, 75], dataRoot, options: essays });
  assert.equal(samples.length, 6);
  for (const s of samples) {
    const m = PASSKEY.exec(s.prompt);
    assert.ok(m, s.prompt.slice(0, 200));
    assert.equal(s.answers[0], m[2]);
    assert.equal(s.promptTokens, charTokenizer.encode(s.prompt).length);
    // Filled up to the last whole sentence that fits (the fixture's sentences are < 70 chars).
    assert.ok(s.promptTokens <= s.contextLength && s.promptTokens >= s.contextLength - 70, `${s.promptTokens} vs ${s.contextLength}`);
    // The needle sits at the last sentence end before d% of the haystack: within one sentence (< 80 chars) of it.
    const hay = s.meta.haystackTokens as number; // chars of the haystack before its last partial sentence is dropped
    assert.ok(m[1]!.length <= (hay * s.depth!) / 100 + 2 && m[1]!.length > (hay * s.depth!) / 100 - 80, `${s.id}`);
    assert.match(m[1]!, /[.!?]$/);
  }
  assert.deepEqual(
    samples.map((s) => s.id),
    ['L=800/d=25/i=0', 'L=800/d=50/i=0', 'L=800/d=75/i=0', 'L=1500/d=25/i=0', 'L=1500/d=50/i=0', 'L=1500/d=75/i=0'],
  );
});

test('passkey: depth 0 and 100 put the key at the ends', () => {
  const [s0, s100] = createNeedleTask('passkey').samples({ seed: 2, tokenizer: charTokenizer, lengths: [400], depths: [0, 100], dataRoot, options: essays });
  assert.match(s0!.prompt, /^The pass key is \d{5}\. Remember it\./);
  assert.match(s100!.prompt, /\d{5} is the pass key\.\nWhat is the pass key\? The pass key is$/);
});

test('needle samples are seeded and independent of the other cells', () => {
  const task = createNeedleTask('passkey');
  const a = task.samples({ seed: 7, tokenizer: charTokenizer, lengths: [500], depths: [50], count: 3, dataRoot, options: essays });
  const b = task.samples({ seed: 7, tokenizer: charTokenizer, lengths: [300, 500], depths: [10, 50], count: 3, dataRoot, options: essays });
  assert.deepEqual(a, b.filter((s) => s.contextLength === 500 && s.depth === 50));
  const c = task.samples({ seed: 8, tokenizer: charTokenizer, lengths: [500], depths: [50], count: 3, dataRoot, options: essays });
  assert.notDeepEqual(a.map((s) => s.answers[0]), c.map((s) => s.answers[0]));
  assert.equal(new Set(a.map((s) => s.answers[0])).size, 3);
});

test('passkey scoring: digits verbatim, plus ROUGE-1 recall', () => {
  const task = createNeedleTask('passkey');
  const [s] = task.samples({ seed: 3, tokenizer: charTokenizer, lengths: [300], depths: [50], dataRoot, options: essays });
  const key = s!.answers[0]!;
  assert.deepEqual(task.score(s!, ` ${key}. Remember`), { score: 1, metrics: { rouge1: 1 } });
  assert.deepEqual(task.score(s!, ' 12345'), { score: 0, metrics: { rouge1: key === '12345' ? 1 : 0 } });
});

test('niah: the standard needle and question, answer scored after normalisation', () => {
  const d = loadNiahDefaults(dataRoot); // built-in fallback (no NIAH_DEFAULTS.json in the tiny root)
  assert.equal(d.answer, 'eat a sandwich and sit in Dolores Park on a sunny day');
  assert.equal(d.answerPrefix, 'The best thing to do in San Francisco is');
  const task = createNeedleTask('niah');
  const tok = wordTokenizer();
  const [s] = task.samples({ seed: 0, tokenizer: tok, lengths: [600], depths: [50], dataRoot, options: essays });
  assert.ok(s!.prompt.includes('.\nThe best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.\n'));
  assert.ok(s!.prompt.endsWith('\nWhat is the best thing to do in San Francisco? The best thing to do in San Francisco is'));
  assert.ok(s!.promptTokens <= 600);
  assert.equal(task.score(s!, ' eat a sandwich and sit in Dolores Park on a sunny day.').score, 1);
  const partial = task.score(s!, ' eat a sandwich.');
  assert.equal(partial.score, 0);
  // Answer tokens: eat a sandwich and sit in dolores park on a sunny day (12); the output has eat, a, sandwich → 3/12.
  assert.equal(partial.metrics.rouge1, 3 / 12);
});

test('niah-paraphrase: question worded differently, random value in the needle', () => {
  const task = createNeedleTask('niah-paraphrase');
  const samples = task.samples({ seed: 5, tokenizer: charTokenizer, lengths: [700], depths: [30], count: 6, dataRoot, options: essays });
  for (const s of samples) {
    const t = PARAPHRASED_NEEDLES[s.meta.template as number]!;
    assert.ok(s.prompt.includes(t.needle.replace('{v}', s.answers[0]!)));
    assert.ok(s.prompt.endsWith(`\nQuestion: ${t.question}\nAnswer:`));
    assert.equal(task.score(s, ` ${s.answers[0]}`).score, 1);
  }
  // Templates: a question and its needle share few content words (at most 2 of length ≥ 5).
  for (const t of PARAPHRASED_NEEDLES) {
    const words = (x: string) => new Set(x.toLowerCase().match(/[a-z]{5,}/g) ?? []);
    const shared = [...words(t.question)].filter((w) => words(t.needle).has(w));
    assert.ok(shared.length <= 2, `${t.question}: ${shared}`);
  }
});

test('needle tasks: bad lengths and options are KvErrors', () => {
  const task = createNeedleTask('passkey');
  assert.throws(() => task.samples({ seed: 0, tokenizer: charTokenizer, lengths: [20], depths: [50], dataRoot, options: essays }), KvError);
  assert.throws(() => task.samples({ seed: 0, tokenizer: charTokenizer, dataRoot, options: { colour: 'red' } }), /^KvError: unknown option 'colour' for task 'passkey'; options: haystack$/);
  assert.throws(() => task.samples({ seed: 0, tokenizer: charTokenizer, dataRoot, options: { haystack: 'web' } }), /^KvError: option haystack of task 'passkey' expects gutenberg, builtin or essays; got 'web'$/);
});

test('linspaceRounded reproduces np.round(np.linspace)', () => {
  assert.deepEqual(linspaceRounded(0, 100, 5), [0, 25, 50, 75, 100]);
  // 1000 + 15000·k/34: k = 1 → 1441.18 → 1441; k = 17 → 8500.
  const l = linspaceRounded(1000, 16000, 35);
  assert.equal(l.length, 35);
  assert.equal(l[1], 1441);
  assert.equal(l[17], 8500);
});

test('passkey on the real Gutenberg haystack and the standard grid (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const d = loadNiahDefaults(root);
  assert.equal(d.lengths[0], 1000);
  assert.equal(d.lengths.at(-1), 16000);
  assert.equal(d.depths.length, 35);
  const tok = wordTokenizer();
  const samples = createNeedleTask('passkey').samples({ seed: 1, tokenizer: tok, lengths: [2000], depths: [50], count: 2, dataRoot: root });
  for (const s of samples) {
    assert.match(s.prompt, PASSKEY);
    assert.ok(s.promptTokens <= 2000 && s.promptTokens > 1800, String(s.promptTokens));
  }
  const [e] = createNeedleTask('niah').samples({ seed: 1, tokenizer: tok, lengths: [1000], depths: [50], dataRoot: root, options: { haystack: 'essays' } });
  assert.ok(e!.prompt.startsWith('July 2010What hard liquor'), e!.prompt.slice(0, 40)); // the essays from the start
});

test('without a data folder the gutenberg haystack falls back to the built-in excerpts, and says so in the sample', () => {
  const saved = process.env.KVMERGER_SHARED_DATA;
  process.env.KVMERGER_SHARED_DATA = join(tmpdir(), 'kvmerger-no-such-data-folder');
  try {
    const [s] = createNeedleTask('passkey').samples({ seed: 0, tokenizer: charTokenizer, lengths: [3000], depths: [50] });
    assert.equal(s!.meta?.haystack, 'builtin');
    assert.ok(s!.prompt.includes('The pass key is'), 'the needle is in the prompt');
    assert.ok(s!.prompt.length > 2000, 'the haystack filled the prompt');
    // An explicit data folder that does not exist is still an error, not a silent fallback.
    assert.throws(() => createNeedleTask('passkey').samples({ seed: 0, tokenizer: charTokenizer, dataRoot: join(tmpdir(), 'kvmerger-nope'), lengths: [300], depths: [50] }), /does not exist/);
  } finally {
    if (saved === undefined) delete process.env.KVMERGER_SHARED_DATA;
    else process.env.KVMERGER_SHARED_DATA = saved;
  }
});
