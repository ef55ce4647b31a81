// LongBench prompts for chat models: wrapped in the model's chat template (one user message, the assistant's turn
// opened) after the middle truncation, with room left for the template's tokens; base models unchanged.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openGGUF } from '../../../src/formats/gguf-reader.js';
import { loadTokenizer } from '../../../src/tokenizer/load-tokenizer.js';
import { loadModel, type LoadedModel } from '../../../src/model/load-model.js';
import { planGrid, type GridSpec } from '../../../src/eval/grid/run-grid.js';
import { samplePromptIds } from '../../../src/eval/grid/run-sample.js';
import { getTask } from '../../../src/eval/tasks/registry.js';
import { encodeChat, modelChatFormat } from '../../../src/eval/tasks/chat-format.js';
import { buildLongBenchPrompt, truncateMiddle } from '../../../src/eval/tasks/longbench-task.js';
import { writeReport } from '../../../src/report/report.js';
import { run as evalRun } from '../../../src/cli/commands/eval.js';
import { sharedData } from '../../helpers/shared-data.js';
import { byteId, CHAT_TEMPLATE, MARKER_IDS, writeChatModel } from '../../helpers/chat-model.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvm-lbchat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const chatModel = join(dir, 'chat.gguf');
const baseModel = join(dir, 'base.gguf');
writeChatModel(chatModel, CHAT_TEMPLATE);
writeChatModel(baseModel);

// A LongBench folder: one multifieldqa_en row (a chat dataset) and one trec row (never wrapped), ASCII without the
// chat markers, so one character is one token.
const lb = join(dir, 'longbench');
mkdirSync(join(lb, 'config'), { recursive: true });
writeFileSync(join(lb, 'config', 'dataset2prompt.json'), JSON.stringify({ multifieldqa_en: 'C:{context}|Q:{input}|A:', trec: 'T:{context}|{input}' }));
writeFileSync(join(lb, 'config', 'dataset2maxlen.json'), JSON.stringify({ multifieldqa_en: 2, trec: 2 }));
const context = 'abcdefgjklmnopqrstuvwxyz0123456789ABCDEFGJKLMNOP';
const row = { input: 'who?', context, answers: ['xy'], length: 50, all_classes: null, dataset: 'multifieldqa_en', language: 'en', _id: 'r0' };
writeFileSync(join(lb, 'multifieldqa_en.jsonl'), JSON.stringify(row) + '\n');
writeFileSync(join(lb, 'trec.jsonl'), JSON.stringify({ ...row, dataset: 'trec', all_classes: ['a', 'b'] }) + '\n');
const RAW = `C:${context}|Q:who?|A:`;

function spec(task: string, chatTemplate?: 'auto' | 'none'): GridSpec {
  return {
    model: 'm',
    backend: 'reference',
    tasks: [{ task: getTask(task), lengths: [24], options: { dir: lb } }],
    methods: ['full'],
    budgets: [],
    seed: 0,
    ...(chatTemplate ? { chatTemplate } : {}),
  };
}

async function withModel<T>(path: string, f: (m: LoadedModel) => T): Promise<T> {
  const m = await loadModel(path, { backend: 'reference' });
  try {
    return f(m);
  } finally {
    await m.close();
  }
}

test('a chat model: the truncated prompt is wrapped as one user message, BOS once, the whole at most L tokens', async () => {
  await withModel(chatModel, (m) => {
    const plan = planGrid(m, spec('longbench-multifieldqa_en'));
    const { sample, cells } = plan.samples[0]!;
    // Hand-computed: L = 24, the template adds [U] [/U] [A] (3 tokens), so the prompt keeps 21 → its first and last 10.
    const kept = RAW.slice(0, 10) + RAW.slice(-10);
    assert.equal(sample.prompt, `[U]${kept}[/U][A]`);
    const ids = [MARKER_IDS.user, ...[...kept].map(byteId), MARKER_IDS.endUser, MARKER_IDS.assistant];
    assert.deepEqual(sample.promptIds, ids);
    assert.equal(sample.promptTokens, 23);
    assert.deepEqual(samplePromptIds(m.tokenizer, sample), [1, ...ids], 'the template prints BOS; the runner adds it once');
    assert.equal(sample.meta.chatTemplate, 'applied');
    assert.equal(cells[0]!.chatTemplate, 'applied');
  });
});

test('--chat-template none, a base model, and a non-chat dataset: plain middle truncation as before', async () => {
  const plain = RAW.slice(0, 12) + RAW.slice(-12);
  const none = await withModel(chatModel, (m) => planGrid(m, spec('longbench-multifieldqa_en', 'none')));
  const base = await withModel(baseModel, (m) => planGrid(m, spec('longbench-multifieldqa_en')));
  for (const plan of [none, base]) {
    const { sample, cells } = plan.samples[0]!;
    assert.equal(sample.prompt, plain);
    assert.equal(sample.promptIds, undefined);
    assert.equal(sample.promptTokens, 24);
    assert.equal(sample.meta.chatTemplate, 'none');
    assert.equal(cells[0]!.chatTemplate, 'none');
  }
  // 'none' adds nothing to the cell key: runs from before chat templates resume; 'applied' is a different cell.
  const applied = await withModel(chatModel, (m) => planGrid(m, spec('longbench-multifieldqa_en')));
  assert.equal(none.samples[0]!.cells[0]!.cellKey, base.samples[0]!.cells[0]!.cellKey);
  assert.notEqual(applied.samples[0]!.cells[0]!.cellKey, none.samples[0]!.cells[0]!.cellKey);
  // trec is never wrapped (LongBench's few-shot datasets), and its rows carry no chatTemplate.
  const trec = await withModel(chatModel, (m) => planGrid(m, spec('longbench-trec')));
  const t = trec.samples[0]!;
  assert.equal(t.sample.prompt, `T:${context}|who?`.slice(0, 12) + `T:${context}|who?`.slice(-12));
  assert.equal(t.sample.meta.chatTemplate, undefined);
  assert.equal(t.cells[0]!.chatTemplate, undefined);
});

test('a template too long for L is a clear error; a bad --chat-template value too', async () => {
  await withModel(chatModel, (m) => {
    const format = modelChatFormat(m.chatTemplate!, m.tokenizer);
    assert.equal(format.render('x'), '[U]x[/U][A]');
    assert.throws(() => buildLongBenchPrompt(RAW, m.tokenizer, 4, format), /chat template takes 3 tokens.*--chat-template none/);
    assert.throws(() => planGrid(m, { ...spec('longbench-multifieldqa_en'), chatTemplate: 'yes' as 'auto' }), /--chat-template must be 'auto'/);
  });
});

test("kvmerger eval --chat-template: rows record options.chatTemplate, re-runs resume, the report keeps both apart", { timeout: 60_000 }, async () => {
  const out = join(dir, 'run');
  const args = (mode?: string) => [
    '--model', chatModel, '--backend', 'reference', '--tasks', 'longbench-multifieldqa_en', '--task-option', `dir=${lb}`,
    '--methods', 'full,h2o', '--budgets', '0.5', '--lengths', '24', '--quiet', '--out', out, ...(mode ? ['--chat-template', mode] : []),
  ];
  // In a child process: an in-process run would take over stdout while the test reporter is still writing to it.
  const cli = (a: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/main.ts'), 'eval', ...a], { cwd: repo, encoding: 'utf8' });
  const first = cli(args());
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /2 cell\(s\) run, 0 already done/);
  assert.match(cli(args('auto')).stdout, /0 cell\(s\) run, 2 already done/);
  assert.match(cli(args('none')).stdout, /2 cell\(s\) run, 0 already done/);
  const rows = readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { method: string; options: Record<string, unknown>; promptTokens: number });
  assert.deepEqual(rows.map((r) => [r.method, r.options.chatTemplate, r.promptTokens]), [
    ['full', 'applied', 24],
    ['h2o', 'applied', 24],
    ['full', 'none', 25],
    ['h2o', 'none', 25],
  ]);
  const runInfo = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { grid: { chatTemplate: string } };
  assert.equal(runInfo.grid.chatTemplate, 'none');
  const report = await writeReport(out);
  const table = report.tables.find((t) => t.kind === 'scores')!;
  assert.deepEqual(table.rows.map((r) => r[0]).sort(), ['full (chatTemplate=applied) (full cache)', 'full (chatTemplate=none) (full cache)', 'h2o (chatTemplate=applied)', 'h2o (chatTemplate=none)']);
  await assert.rejects(evalRun(args('always')), /--chat-template must be 'auto'/);
});

const phi3 = sharedData('tokenizer-tests/ggml-vocab-phi-3.gguf');
test('a real chat template (Phi-3, from its GGUF): the rendered prompt equals the template written out by hand', { skip: phi3 ? false : 'needs ../shared/data/tokenizer-tests/ggml-vocab-phi-3.gguf' }, () => {
  const file = openGGUF(phi3!);
  let template: unknown;
  try {
    template = file.metadata.get('tokenizer.chat_template');
  } finally {
    file.close();
  }
  assert.equal(typeof template, 'string');
  const tok = loadTokenizer(phi3!);
  const format = modelChatFormat(template as string, tok);
  // Phi-3: {{ bos_token }}, then '<|user|>\n' + content + '<|end|>\n<|assistant|>\n'; the BOS is the runner's.
  assert.equal(format.render('Hello'), '<|user|>\nHello<|end|>\n<|assistant|>\n');
  const raw = `Read this. ${'The quick brown fox jumps over the lazy dog. '.repeat(40)}Question: what jumps?`;
  const p = buildLongBenchPrompt(raw, tok, 120, format);
  assert.ok(p.prompt.startsWith('<|user|>\nRead this.') && p.prompt.endsWith('Question: what jumps?<|end|>\n<|assistant|>\n'), p.prompt);
  assert.deepEqual(p.promptIds, encodeChat(tok, p.prompt));
  assert.ok(p.tokens <= 120 && p.tokens >= 115, `${p.tokens} tokens`);
  // <|user|> 32010 first, <|end|> 32007 and <|assistant|> 32001 at the end: the markers are single special tokens.
  assert.equal(p.promptIds![0], 32010);
  assert.ok(p.promptIds!.includes(32007) && p.promptIds!.includes(32001));
  // The content between the markers is pred.py's middle truncation of the raw prompt.
  const inner = p.prompt.slice('<|user|>\n'.length, -'<|end|>\n<|assistant|>\n'.length);
  const limit = [...Array(121).keys()].reverse().find((n) => truncateMiddle(raw, tok, n) === inner);
  assert.ok(limit !== undefined && limit < 120, 'the content is a middle truncation to fewer than L tokens');
});
