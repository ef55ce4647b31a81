/**
 * Task options run through the shared option declarations (src/util/option-declarations.ts): the command line's
 * strings are converted, defaults filled in, and every kind of bad value is a one-line KvError naming the task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTask, describeTasks, listTasks, type TaskOptions } from '../../../src/eval/tasks/registry.js';
import { defineTaskOptions } from '../../../src/eval/tasks/task-options.js';
import { option } from '../../../src/util/option-declarations.js';
import { KvError } from '../../../src/util/errors.js';
import { taskOptionsBy } from '../../../src/cli/grid-args.js';
import { charTokenizer } from '../../helpers/toy-tokenizers.js';
import { tinyDataRoot } from '../fixtures.js';
import { sharedData } from '../../helpers/shared-data.js';

const kv = (f: () => unknown, message: string) =>
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof KvError, String(e));
    assert.equal(e.message, message);
    return true;
  });

const schema = defineTaskOptions({
  split: option.enum(['validation', 'haystack'], { default: 'validation', description: 'which books' }),
  k: option.integer({ min: 0, minExclusive: true, default: 256, description: 'forced tokens' }),
  alpha: option.number({ min: 1, minExclusive: true, default: 2, description: 'exponent' }),
  fewshot: option.boolean({ default: true, description: 'an example first' }),
  dir: option.string({ description: 'a folder' }),
});

test('task options: defaults, strings from the command line converted, typed values kept', () => {
  assert.deepEqual(schema.parse('t'), { split: 'validation', k: 256, alpha: 2, fewshot: true });
  assert.deepEqual(schema.parse('t', { k: '48', alpha: '1.5', fewshot: 'false', dir: '/data/lb', split: 'haystack' }), { split: 'haystack', k: 48, alpha: 1.5, fewshot: false, dir: '/data/lb' });
  assert.deepEqual(schema.parse('t', { k: 48, fewshot: false }), { split: 'validation', k: 48, alpha: 2, fewshot: false });
  assert.equal(schema.parse('t').dir, undefined);
});

test('task options: each bad value is one line naming the task, the option and what it takes', () => {
  kv(() => schema.parse('t', { colour: 'red' }), "unknown option 'colour' for task 't'; options: split, k, alpha, fewshot, dir");
  kv(() => schema.parse('t', { fewshoot: 'true' }), "unknown option 'fewshoot' for task 't' (did you mean fewshot?); options: split, k, alpha, fewshot, dir");
  kv(() => schema.parse('t', { k: 'many' }), "option k of task 't' expects a positive integer; got 'many'");
  kv(() => schema.parse('t', { k: '2.5' }), "option k of task 't' expects a positive integer; got '2.5'");
  kv(() => schema.parse('t', { k: '0' }), "option k of task 't' expects a positive integer; got '0'");
  kv(() => schema.parse('t', { k: '' }), "option k of task 't' expects a positive integer; got ''");
  kv(() => schema.parse('t', { alpha: '1' }), "option alpha of task 't' expects a number > 1; got '1'");
  kv(() => schema.parse('t', { fewshot: 'yes' }), "option fewshot of task 't' expects true or false; got 'yes'");
  kv(() => schema.parse('t', { split: 'test' }), "option split of task 't' expects validation or haystack; got 'test'");
  kv(() => schema.parse('t', { dir: true }), "option dir of task 't' expects text; got 'true'");
  kv(() => defineTaskOptions({}).parse('t', { k: '1' }), "unknown option 'k' for task 't'; options: (none)");
});

test("the registry's tasks read their options from their declarations", () => {
  const root = tinyDataRoot();
  const fidelity = getTask('fidelity');
  assert.deepEqual(fidelity.options.map((o) => [o.name, o.type, o.default]), [['split', 'enum', 'validation'], ['k', 'integer', 256]]);
  // A needle task reads its enum from the command line's string (the tiny data root has the essays).
  const [n] = getTask('passkey').samples({ seed: 1, tokenizer: charTokenizer, lengths: [400], depths: [50], dataRoot: root, options: { haystack: 'essays' } });
  assert.equal(n!.meta.haystack, 'essays');
  kv(() => fidelity.samples({ seed: 1, tokenizer: charTokenizer, lengths: [100], dataRoot: root, options: { k: '-3' } }), "option k of task 'fidelity' expects a positive integer; got '-3'");
  kv(() => getTask('ppl-stream').samples({ seed: 1, tokenizer: charTokenizer, lengths: [100], dataRoot: root, options: { k: '8' } }), "unknown option 'k' for task 'ppl-stream'; options: split, promptTokens");
  kv(() => getTask('ruler-fwe').samples({ seed: 1, tokenizer: charTokenizer, lengths: [1000], options: { alpha: '0.5' } }), "option alpha of task 'ruler-fwe' expects a number > 1; got '0.5'");
  kv(() => getTask('ruler-niah_single_1').samples({ seed: 1, tokenizer: charTokenizer, lengths: [1000], options: { haystackText: 'essays' } }), "unknown option 'haystackText' for task 'ruler-niah_single_1'; options: (none)");
  assert.deepEqual(getTask('longbench-qasper').options.map((o) => [o.name, o.type, o.default]), [['dir', 'string', undefined], ['config', 'string', undefined]]);
  assert.match(describeTasks(), /ruler-vt +.*\[options: numChains=1, numHops=4, fewshot=true\]/);
});

test('ruler-vt: fewshot=false from the command line drops the solved example', () => {
  const task = getTask('ruler-vt');
  const withExample = task.samples({ seed: 4, tokenizer: charTokenizer, lengths: [2500] })[0]!;
  const without = task.samples({ seed: 4, tokenizer: charTokenizer, lengths: [2500], options: { fewshot: 'false' } })[0]!;
  const asks = (s: string) => s.split('Memorize and track the chain(s)').length - 1;
  assert.equal(asks(withExample.prompt), 2);
  assert.equal(asks(without.prompt), 1);
});

test('fidelity: k from the command line sets the forced tokens (shared data)', (t) => {
  const root = sharedData();
  if (!root) return t.skip('../shared/data absent');
  const [f] = getTask('fidelity').samples({ seed: 1, tokenizer: charTokenizer, lengths: [100], dataRoot: root, options: { k: '24' } });
  assert.equal(f!.continuationIds!.length, 24);
});

test('--task-option: a name no task has suggests the nearest', () => {
  kv(() => taskOptionsBy([getTask('passkey'), getTask('fidelity')], ['haystak=essays']), "--task-option 'haystak=essays': no task in --tasks has an option 'haystak' (did you mean haystack?); kvmerger eval --help lists each task's options");
  kv(() => taskOptionsBy([getTask('passkey')], ['haystack']), "--task-option 'haystack' must be task.name=value or name=value (e.g. fidelity.k=128)");
  assert.deepEqual([...taskOptionsBy([getTask('passkey'), getTask('fidelity')], ['k=16', 'passkey.haystack=essays'])], [['fidelity', { k: '16' }], ['passkey', { haystack: 'essays' }]]);
});

test('TaskOptions (the library type) names every task and exactly the options each declares', () => {
  // Each list is checked by the compiler against TaskOptions and here against the declarations.
  type Listed = Exclude<keyof TaskOptions, `longbench-${string}`>;
  const names: { [K in Listed]: readonly (keyof TaskOptions[K])[] } = {
    fidelity: ['split', 'k'],
    'ppl-stream': ['split', 'promptTokens'],
    niah: ['haystack'],
    passkey: ['haystack'],
    'niah-paraphrase': ['haystack'],
    'ruler-niah_single_1': [],
    'ruler-niah_single_2': ['haystackText'],
    'ruler-niah_single_3': ['haystackText'],
    'ruler-niah_multikey_1': ['haystackText'],
    'ruler-niah_multikey_2': [],
    'ruler-niah_multikey_3': [],
    'ruler-niah_multivalue': ['haystackText'],
    'ruler-niah_multiquery': ['haystackText'],
    'ruler-vt': ['numChains', 'numHops', 'fewshot'],
    'ruler-cwe': ['freqCw', 'freqUcw', 'numCw', 'fewshot'],
    'ruler-fwe': ['alpha'],
    'ruler-jsonl': ['file', 'metric', 'maxNewTokens'],
  };
  const longbench: readonly (keyof TaskOptions['longbench-qasper'])[] = ['dir', 'config'];
  for (const t of listTasks()) {
    const expected = t.name.startsWith('longbench-') ? longbench : names[t.name as Listed];
    assert.ok(expected, `${t.name} is in TaskOptions`);
    assert.deepEqual(t.options.map((o) => o.name), expected, t.name);
  }
});
