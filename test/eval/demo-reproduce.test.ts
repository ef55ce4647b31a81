/** `kvmerger demo` in-process on stories260K (a short prompt, two methods), and the reproduce preset's sizing. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { run as demo, demoTable, formatDemoTable } from '../../src/cli/commands/demo.js';
import { reproduceTasks } from '../../src/eval/grid/reproduce-grid.js';
import { loadModel, type LoadedModel } from '../../src/model/load-model.js';
import { sampleContextNeed } from '../../src/eval/grid/run-sample.js';
import { runCommand } from '../helpers/run-command.js';
import { sharedData } from '../helpers/shared-data.js';

const modelFile = sharedData('models/stories260K.bin');
const tokFile = sharedData('models/tok512.bin');
const skip = !modelFile || !tokFile || !sharedData('corpora/gutenberg') ? 'needs ../shared/data (models/stories260K.bin, tok512.bin, corpora/gutenberg)' : false;
let loaded: LoadedModel | undefined;
after(async () => loaded?.close());

const capture = (argv: string[]) => runCommand(demo, argv);

test('demoTable: correct answers, KL and memory per method and budget', () => {
  const row = (task: string, method: string, b: number, score: number, kl = 0) => ({
    task, method, budgetRequested: b, score, metrics: { meanKL: kl, top1Agreement: 1 - kl }, kvBytes: 1024 * b, kvBytesFull: 1024, compressMs: 1, decodeMs: 9,
  });
  const t = demoTable([row('passkey', 'full', 1, 1), row('niah', 'full', 1, 0), row('fidelity', 'full', 1, 1), row('passkey', 'h2o', 0.5, 1), row('niah', 'h2o', 0.5, 1), row('fidelity', 'h2o', 0.5, 0.5, 0.25)]);
  assert.deepEqual(t.map((r) => [r.method, r.budget, r.correct, r.answered, r.kl, r.top1, r.kvBytes, r.ms]), [
    ['full', 1, 1, 2, 0, 1, 1024, 10],
    ['h2o', 0.5, 2, 2, 0.25, 0.75, 512, 10],
  ]);
  const text = formatDemoTable(t);
  assert.match(text, /^method +budget +correct +KL \(nats\/tok\) +top-1 +KV memory +ms\/prompt\n/);
  assert.match(text, /h2o +50% +2\/2 +0\.2500 +75\.0% +1 KiB +10/);
});

test('kvmerger demo on stories260K: a table with every method and budget, and the elapsed time', { skip }, async () => {
  const { code, out } = await capture(['--model', modelFile!, '--tokenizer', tokFile!, '--length', '200', '--methods', 'full,h2o,kvmerger', '--threads', '1', '--json']);
  assert.equal(code, 0);
  // The test runner's own reports can interleave with captured stdout: take the JSON object alone.
  const start = out.indexOf('{\n  "model"');
  const j = JSON.parse(out.slice(start, out.indexOf('\n}\n', start) + 2)) as { length: number; prompts: number; rows: { method: string; budget: number; answered: number; kl: number; kvBytes: number; kvBytesFull: number }[]; elapsedSeconds: number };
  assert.equal(j.length, 200);
  assert.equal(j.prompts, 4);
  assert.deepEqual(j.rows.map((r) => `${r.method}@${r.budget}`), ['full@1', 'h2o@0.5', 'h2o@0.35', 'kvmerger@0.5', 'kvmerger@0.35']);
  for (const r of j.rows) {
    assert.equal(r.answered, 3);
    if (r.method === 'full') assert.equal(r.kl, 0);
    else assert.ok(r.kl > 0 && r.kvBytes < r.kvBytesFull);
  }
  assert.ok(j.elapsedSeconds > 0 && j.elapsedSeconds < 60);
});

test('reproduce preset: every task it keeps fits the context; what does not fit is said', { skip }, async () => {
  loaded ??= await loadModel(modelFile!, { tokenizerPath: tokFile!, backend: 'reference' });
  const { tasks, notes } = reproduceTasks(loaded, { quick: true });
  const names = tasks.map((t) => t.task.name);
  for (const n of ['fidelity', 'ppl-stream', 'passkey', 'niah']) assert.ok(names.includes(n), n);
  // multi_news answers take up to 512 tokens: no room in a 512-token context.
  assert.ok(notes.some((n) => n.startsWith('longbench-multi_news left out')), notes.join('\n'));
  for (const t of tasks) {
    for (const s of t.task.samples({ seed: 0, tokenizer: loaded.tokenizer, count: t.count ?? 1, lengths: t.lengths!, ...(t.depths ? { depths: t.depths } : {}), ...(t.options ? { options: t.options } : {}) })) {
      const need = sampleContextNeed(loaded.tokenizer, s);
      assert.ok(need.prompt + need.extra <= 512, `${t.task.name} ${s.id}`);
    }
  }
});
