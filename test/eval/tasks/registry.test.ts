import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getTask, listTasks, parseTaskList, describeTasks } from '../../../src/eval/tasks/registry.js';
import { KvError } from '../../../src/util/errors.js';

test('the registry has every task family, with unique names and descriptions', () => {
  const names = listTasks().map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of ['fidelity', 'ppl-stream', 'niah', 'passkey', 'niah-paraphrase', 'ruler-niah_single_1', 'ruler-niah_multikey_3', 'ruler-vt', 'ruler-cwe', 'ruler-fwe', 'ruler-jsonl', 'longbench-multi_news', 'longbench-multifieldqa_zh', 'longbench-passage_retrieval_zh']) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(names.length, 2 + 3 + 11 + 1 + 21);
  for (const t of listTasks()) {
    assert.ok(t.description.length > 10 && !t.description.includes('\n'), t.name);
    assert.ok(t.kind === 'generate' || t.kind === 'fidelity');
  }
  assert.equal(getTask('passkey').kind, 'generate');
  assert.equal(getTask('fidelity').kind, 'fidelity');
  assert.match(describeTasks(), /passkey +five-digit pass key .*\[options: haystack=gutenberg\]/);
});

test('unknown tasks are KvErrors that list the tasks', () => {
  assert.throws(() => getTask('needle'), (e: unknown) => e instanceof KvError && /unknown task 'needle'; tasks: fidelity, ppl-stream, niah, passkey/.test(e.message));
  assert.deepEqual(parseTaskList('passkey, ruler-vt').map((t) => t.name), ['passkey', 'ruler-vt']);
  assert.throws(() => parseTaskList(' , '), KvError);
});
