import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRulerTask, RULER_CONFIGS, NOISE, zeta } from '../../../src/eval/tasks/ruler-tasks.js';
import { rulerJsonlTask, parseRulerJsonl } from '../../../src/eval/tasks/ruler-jsonl-task.js';
import { stringMatchAll, stringMatchPart } from '../../../src/eval/metrics/ruler-metrics.js';
import { KvError } from '../../../src/util/errors.js';
import { charTokenizer, wordTokenizer } from '../../helpers/toy-tokenizers.js';
import { sharedData } from '../../helpers/shared-data.js';
import { tinyDataRoot } from '../fixtures.js';

const dataRoot = tinyDataRoot();
const essays = { haystackText: 'essays' };
const count = (text: string, sub: string) => text.split(sub).length - 1;

test('string match (RULER eval_constants): all and part', () => {
  // refs [b, d]: "b" appears (case-insensitive), "d" does not → all = 1/2, part = 1.
  assert.equal(stringMatchAll('a B c', ['b', 'd']), 0.5);
  assert.equal(stringMatchPart('a B c', ['b', 'd']), 1);
  assert.equal(stringMatchPart('a c', ['b', 'd']), 0);
});

test('niah_single_1: noise haystack, singular template, one needle, fits L', () => {
  const task = createRulerTask('niah_single_1');
  const [s] = task.samples({ seed: 1, tokenizer: charTokenizer, lengths: [2000] });
  const p = s!.prompt;
  assert.ok(p.startsWith('A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' + NOISE + '\n'));
  const m = /One of the special magic numbers for ([a-z]+-[a-z]+) is: (\d{7})\./.exec(p);
  assert.ok(m);
  assert.deepEqual(s!.answers, [m[2]]);
  assert.equal(count(p, 'One of the special magic'), 1);
  assert.ok(p.endsWith(`\nWhat is the special magic number for ${m[1]} mentioned in the provided text? The special magic number for ${m[1]} mentioned in the provided text is`));
  assert.equal(s!.promptTokens, p.length);
  assert.equal(s!.maxNewTokens, 128);
  // prompt + 128 ≤ 2000, and no room for one more noise line (≈ 90 chars).
  assert.ok(s!.promptTokens + 128 <= 2000 && s!.promptTokens + 128 > 2000 - NOISE.length - 2, String(s!.promptTokens));
  assert.equal(task.score(s!, ` ${m[2]}.`).score, 1);
  assert.equal(task.score(s!, ' 1234567').score, m[2] === '1234567' ? 1 : 0);
});

test('niah_multikey_3 has the structure of the pre-generated RULER file', (t) => {
  const [s] = createRulerTask('niah_multikey_3').samples({ seed: 2, tokenizer: charTokenizer, lengths: [3000] });
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/g;
  assert.equal(s!.answers.length, 1);
  assert.match(s!.answers[0]!, uuid);
  const ours = s!.prompt.replace(uuid, 'U');
  const lines = ours.split('\n');
  assert.ok(lines.slice(1, -1).every((l) => l === 'One of the special magic uuids for U is: U.'));
  const file = sharedData('ruler/4096/niah_multikey_3.jsonl');
  if (!file) return t.skip('../shared/data absent');
  const row = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as { input: string };
  const theirs = row.input.replace(uuid, 'U').split('\n');
  assert.equal(lines[0], theirs[0]);
  assert.equal(lines.at(-1), theirs.at(-1));
  assert.equal(lines[1], theirs[1]);
});

test('multikey_1, multivalue, multiquery on an essay haystack', () => {
  const opts = { seed: 3, tokenizer: charTokenizer, lengths: [3000], dataRoot, options: essays };
  const [mk] = createRulerTask('niah_multikey_1').samples(opts);
  assert.equal(count(mk!.prompt, 'One of the special magic numbers for'), 4);
  assert.equal(mk!.answers.length, 1);
  assert.ok(mk!.promptTokens + 128 <= 3000 && mk!.promptTokens + 128 > 2900);
  const [mv] = createRulerTask('niah_multivalue').samples(opts);
  assert.equal(mv!.answers.length, 4);
  assert.ok(mv!.prompt.startsWith('Some special magic numbers are hidden'));
  assert.match(mv!.prompt, /What are all the special magic numbers for [a-z]+-[a-z]+ mentioned in the provided text\? The special magic numbers for [a-z]+-[a-z]+ mentioned in the provided text are$/);
  for (const v of mv!.answers) assert.equal(count(mv!.prompt, `is: ${v}.`), 1);
  assert.equal(createRulerTask('niah_multivalue').score(mv!, mv!.answers.slice(0, 3).join(', ')).score, 0.75);
  const [mq] = createRulerTask('niah_multiquery').samples(opts);
  assert.equal(mq!.answers.length, 4);
  assert.match(mq!.prompt, /for [a-z]+-[a-z]+, [a-z]+-[a-z]+, [a-z]+-[a-z]+, and [a-z]+-[a-z]+ mentioned in the provided text are$/);
});

test('vt: one chain of 4 hops in noise, with a solved example first', () => {
  const task = createRulerTask('vt');
  const [s] = task.samples({ seed: 4, tokenizer: charTokenizer, lengths: [2500] });
  const [a, b, c, d, e] = s!.answers;
  assert.equal(s!.answers.length, 5);
  const value = s!.meta.value as string;
  const idx = [`VAR ${a} = ${value}`, `VAR ${b} = VAR ${a} `, `VAR ${c} = VAR ${b} `, `VAR ${d} = VAR ${c} `, `VAR ${e} = VAR ${d} `].map((l) => s!.prompt.indexOf(l));
  assert.ok(idx.every((x, i) => x > 0 && (i === 0 || x > idx[i - 1]!)), String(idx));
  // The example (3-letter variables) comes first, answered; the real question last.
  assert.equal(count(s!.prompt, 'Memorize and track the chain(s)'), 2);
  assert.match(s!.prompt, /they are: [A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3} [A-Z]{3}\n\nMemorize/);
  assert.ok(s!.prompt.endsWith(`Answer: According to the chain(s) of variable assignment in the text above, 5 variables are assigned the value ${value}, they are: `));
  assert.equal(task.score(s!, `${a} ${b} ${c}`).score, 0.6);
  assert.ok(s!.promptTokens + 30 <= 2500);
});

test('cwe: the 10 common words repeat 6 times (L < 4096), the rest once', () => {
  const [s] = createRulerTask('cwe').samples({ seed: 5, tokenizer: charTokenizer, lengths: [3000] });
  assert.equal(s!.answers.length, 10);
  const main = s!.prompt.slice(s!.prompt.lastIndexOf('Below is a numbered list'));
  const words = [...main.matchAll(/\d+\. ([a-z]+)/g)].map((m) => m[1]!);
  const freq = new Map<string, number>();
  for (const w of words) freq.set(w, (freq.get(w) ?? 0) + 1);
  for (const w of s!.answers) assert.equal(freq.get(w), 6, w);
  for (const [w, n] of freq) if (!s!.answers.includes(w)) assert.equal(n, 1, w);
  assert.ok(s!.prompt.endsWith('Answer: The top 10 words that appear most often in the list are:'));
  assert.ok(s!.promptTokens + 120 <= 3000 && s!.promptTokens + 120 > 2950);
});

test('fwe: the three answers are the three most frequent coded words (Zipf counts)', () => {
  // zeta(2) = π²/6.
  assert.ok(Math.abs(zeta(2) - Math.PI ** 2 / 6) < 1e-9);
  const [s] = createRulerTask('fwe').samples({ seed: 6, tokenizer: charTokenizer, lengths: [4000] });
  const ctx = s!.prompt.slice(0, s!.prompt.indexOf('\nQuestion:'));
  const freq = new Map<string, number>();
  for (const w of ctx.match(/\b[a-z]{6}\b/g) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  const ranked = [...freq.entries()].sort((x, y) => y[1] - x[1]);
  assert.deepEqual(ranked.slice(0, 3).map(([w]) => w), s!.answers);
  assert.ok(ranked[2]![1] > ranked[3]![1]);
  // The noise word "..." is the most frequent token overall: floor(n / zeta(2)) copies.
  assert.ok(count(ctx, '...') > ranked[0]![1]);
});

test('RULER tasks: seeded, all configs generate, too-short lengths fail clearly', () => {
  const a = createRulerTask('niah_single_2').samples({ seed: 9, tokenizer: charTokenizer, lengths: [1500], count: 2, dataRoot, options: essays });
  const b = createRulerTask('niah_single_2').samples({ seed: 9, tokenizer: charTokenizer, lengths: [1500], count: 2, dataRoot, options: essays });
  assert.deepEqual(a, b);
  assert.notEqual(a[0]!.answers[0], a[1]!.answers[0]);
  const tok = wordTokenizer();
  for (const name of Object.keys(RULER_CONFIGS)) {
    const [s] = createRulerTask(name).samples({ seed: 1, tokenizer: tok, lengths: [1200], dataRoot, options: RULER_CONFIGS[name]!.task === 'niah' && /single_[23]|multikey_1|multivalue|multiquery/.test(name) ? essays : {} });
    assert.ok(s!.promptTokens + s!.maxNewTokens <= 1200, name);
    assert.ok(s!.promptTokens > 600, `${name}: ${s!.promptTokens}`);
  }
  assert.throws(() => createRulerTask('niah_single_1').samples({ seed: 1, tokenizer: charTokenizer, lengths: [100] }), KvError);
  assert.throws(() => createRulerTask('qa_1'), /unknown RULER task/);
});

test('ruler-jsonl: parse errors name the line', () => {
  assert.deepEqual(parseRulerJsonl('{"index": 3, "input": "x", "outputs": ["y"], "length": 5}\n', 'f'), [{ index: 3, input: 'x', outputs: ['y'], length: 5 }]);
  assert.throws(() => parseRulerJsonl('{"input": 1}', 'f.jsonl'), /f\.jsonl:1:/);
  assert.throws(() => parseRulerJsonl('\n{oops', 'f.jsonl'), /f\.jsonl:2: not valid JSON/);
});

test('ruler-jsonl loads the pre-generated multi-key file (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const samples = rulerJsonlTask.samples({ seed: 0, tokenizer: charTokenizer, count: 3, dataRoot: root });
  assert.equal(samples.length, 3);
  assert.equal(samples[0]!.id, 'index=0');
  assert.deepEqual(samples[0]!.answers, ['1ee34dc4-3b04-4a8b-805b-fdc94e7ed827']);
  assert.equal(rulerJsonlTask.score(samples[0]!, ' 1EE34DC4-3b04-4a8b-805b-fdc94e7ed827.').score, 1);
  assert.equal(rulerJsonlTask.samples({ seed: 0, tokenizer: charTokenizer, dataRoot: root }).length, 500);
});
