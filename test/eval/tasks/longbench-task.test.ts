import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createLongBenchTask, formatLongBenchPrompt, truncateMiddle, parseLongBenchJsonl, type LongBenchRow } from '../../../src/eval/tasks/longbench-task.js';
import { KvError } from '../../../src/util/errors.js';
import { charTokenizer, wordTokenizer } from '../../helpers/toy-tokenizers.js';
import { sharedData } from '../../helpers/shared-data.js';

const row = (o: Partial<LongBenchRow>): LongBenchRow => ({
  input: '', context: '', answers: [], length: 0, all_classes: null, dataset: '', language: 'en', _id: 'x', ...o,
});

test('formatLongBenchPrompt substitutes fields in one pass', () => {
  const r = row({ context: 'ctx with {input} inside', input: 'Q?' });
  assert.equal(formatLongBenchPrompt('C: {context}\nQ: {input}', r), 'C: ctx with {input} inside\nQ: Q?');
  assert.throws(() => formatLongBenchPrompt('{nope}', r), KvError);
});

test('truncateMiddle keeps the first and last ⌊L/2⌋ tokens', () => {
  assert.equal(truncateMiddle('abcdefghij', charTokenizer, 4), 'abij');
  assert.equal(truncateMiddle('abcdefghij', charTokenizer, 5), 'abij'); // int(5/2) = 2 each side
  assert.equal(truncateMiddle('abcdefghij', charTokenizer, 10), 'abcdefghij');
});

function lbDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lb-'));
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'dataset2prompt.json'), JSON.stringify({ trec: 'Classify.\n\n{context}\n{input}', samsum: 'Sum.\n{context}\n{input}' }));
  writeFileSync(join(dir, 'config', 'dataset2maxlen.json'), JSON.stringify({ trec: 64, samsum: 128 }));
  const rows = [
    { input: 'Who won?', context: 'Example: Where is X? Type: Location', answers: ['Human being'], length: 9, all_classes: ['Human being', 'Location', 'Human'], dataset: 'trec', language: 'en', _id: 'r1' },
    { input: 'Why?', context: 'y'.repeat(100), answers: ['Description'], length: 5, all_classes: ['Description'], dataset: 'trec', language: 'en', _id: 'r2' },
  ];
  writeFileSync(join(dir, 'trec.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(join(dir, 'samsum.jsonl'), JSON.stringify({ ...rows[0], dataset: 'samsum', answers: ['A summary.'] }) + '\n');
  return dir;
}

test('LongBench task: prompt, truncation, max tokens, chat flag, scoring with classes', () => {
  const dir = lbDir();
  const task = createLongBenchTask('trec');
  const samples = task.samples({ seed: 0, tokenizer: charTokenizer, lengths: [60], options: { dir } });
  assert.equal(samples.length, 2);
  const [a, b] = samples;
  assert.equal(a!.prompt, 'Classify.\n\nExample: Where is X? Type: Location\nWho won?'); // 53 chars ≤ 60: untouched
  assert.equal(a!.maxNewTokens, 64);
  assert.equal(a!.meta.chat, false);
  assert.equal(a!.id, 'L=60/r1');
  // r2: 'Classify.\n\n' + 100 y + '\nWhy?' = 116 chars > 60 → first 30 + last 30.
  assert.equal(b!.prompt, 'Classify.\n\n' + 'y'.repeat(19) + 'y'.repeat(25) + '\nWhy?');
  assert.equal(b!.promptTokens, 60);
  // trec: first line only; "Human being" matches "Human" too, which is dropped as a substring of the truth → 1.
  assert.equal(task.score(a!, '\nHuman being\nLocation').score, 1);
  assert.equal(task.score(a!, 'Location').score, 0);
  const [s] = createLongBenchTask('samsum').samples({ seed: 0, tokenizer: charTokenizer, lengths: [500], options: { dir } });
  assert.deepEqual(s!.stop, ['\n']);
  assert.equal(s!.maxNewTokens, 128);
  assert.throws(() => createLongBenchTask('multifieldqa_zh').samples({ seed: 0, tokenizer: charTokenizer, options: { dir } }), /multifieldqa_zh\.jsonl not found/);
  assert.throws(() => createLongBenchTask('nosuch'), /unknown LongBench dataset/);
  assert.throws(() => parseLongBenchJsonl('{"context": 1}', 'f.jsonl'), /f\.jsonl:1:/);
});

test('LongBench on the shared files: multi_news and the Chinese tasks (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const tok = wordTokenizer();
  const mn = createLongBenchTask('multi_news').samples({ seed: 0, tokenizer: tok, lengths: [3500], count: 5, dataRoot: root });
  assert.equal(mn.length, 5);
  for (const s of mn) {
    assert.ok(s.prompt.startsWith('You are given several news passages. Write a one-page summary of all news. \n\nNews:\n'));
    assert.ok(s.prompt.endsWith('Now, write a one-page summary of all the news.\n\nSummary:'));
    assert.ok(s.promptTokens <= 3500);
    assert.equal(s.maxNewTokens, 512);
    assert.equal(s.meta.chat, true);
  }
  const task = createLongBenchTask('multi_news');
  assert.ok(Math.abs(task.score(mn[0]!, mn[0]!.answers[0]!).score - 1) < 1e-6);
  const zh = createLongBenchTask('multifieldqa_zh');
  const [q] = zh.samples({ seed: 0, tokenizer: charTokenizer, lengths: [2000], count: 1, dataRoot: root });
  assert.equal(q!.promptTokens, 2000);
  assert.ok(q!.prompt.endsWith('问题：全国美国文学研究会的第十八届年会在哪所大学举办的？\n回答：'));
  assert.equal(zh.score(q!, '厦门大学').score, 1);
  const pr = createLongBenchTask('passage_retrieval_zh');
  const [p] = pr.samples({ seed: 0, tokenizer: charTokenizer, lengths: [8000], count: 1, dataRoot: root });
  assert.equal(pr.score(p!, '段落27').score, 1);
  assert.equal(pr.score(p!, '段落2').score, 0);
  assert.equal(pr.samples({ seed: 0, tokenizer: charTokenizer, lengths: [8000], dataRoot: root }).length, 200);
});
