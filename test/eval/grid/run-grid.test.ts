/**
 * The grid runner on stories260K (context 512, 5 layers, 4 KV heads): a 2 tasks × 2 methods × 2 budgets grid plus
 * the full cache, run in-process with a forward-call counter.
 */
import { kvTypeBytes } from '../../../src/cache/head-cache.js';
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type LoadedModel } from '../../../src/model/load-model.js';
import type { ForwardBackend } from '../../../src/model/backend.js';
import { getTask } from '../../../src/eval/tasks/registry.js';
import { planGrid, runGrid, type GridSpec } from '../../../src/eval/grid/run-grid.js';
import type { SessionModel } from '../../../src/generate/session-model.js';
import { KvError } from '../../../src/util/errors.js';
import { sharedData } from '../../helpers/shared-data.js';

const modelFile = sharedData('models/stories260K.bin');
const tokFile = sharedData('models/tok512.bin');
const skip = !modelFile || !tokFile || !sharedData('corpora/gutenberg') ? 'needs ../shared/data (models/stories260K.bin, tok512.bin, corpora/gutenberg)' : false;

const tmp = mkdtempSync(join(tmpdir(), 'kvm-grid-'));
let loaded: LoadedModel | undefined;
let forwards = 0;
after(async () => {
  await loaded?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function model(): Promise<SessionModel> {
  loaded ??= await loadModel(modelFile!, { tokenizerPath: tokFile!, threads: 1 });
  const inner = loaded.backend;
  const counting: ForwardBackend = {
    name: inner.name,
    kvType: inner.kvType,
    forward: (tokens, cache, options) => {
      forwards++;
      return inner.forward(tokens, cache, options);
    },
    dispose: () => inner.dispose(),
  };
  return { config: loaded.config, tokenizer: loaded.tokenizer, backend: counting };
}

const spec = (over: Partial<GridSpec> = {}): GridSpec => ({
  model: 'stories260K.bin',
  backend: 'ort',
  tasks: [
    { task: getTask('fidelity'), lengths: [150], options: { k: 24 } },
    { task: getTask('passkey'), lengths: [160], depths: [50] },
  ],
  methods: ['full', 'h2o', 'kvmerger'],
  budgets: [0.5, 0.35],
  seed: 3,
  ...over,
});

type Row = Record<string, unknown> & { cellKey: string; slotsPerLayer: number[]; promptTokens: number; budgetAchieved: number };
const readRows = (dir: string): Row[] =>
  readFileSync(join(dir, 'results.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
const TIMES = new Set(['prefillMs', 'compressMs', 'decodeMs']);
const withoutTimes = (r: Row) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMES.has(k)));

test('grid: one row per cell, budgets measured independently, full = budget 1, resume, torn line, determinism', { skip }, async () => {
  const m = await model();
  const L = 5;
  const H = 4;
  const headDim = 8;
  const dir = join(tmp, 'a');
  const plan = planGrid(m, spec());
  assert.equal(plan.totalCells, 2 * (1 + 2 * 2));

  forwards = 0;
  const s1 = await runGrid(m, plan, { out: dir });
  assert.equal(s1.ran, 10);
  assert.equal(s1.skipped, 0);
  assert.equal(s1.prefills, 2, 'one prefill per sample, shared by every method and budget');
  const rows = readRows(dir);
  assert.equal(rows.length, 10);
  assert.equal(new Set(rows.map((r) => r.cellKey)).size, 10);
  for (const r of rows) {
    for (const f of ['model', 'task', 'sample', 'method', 'options', 'budgetRequested', 'budgetAchieved', 'score', 'metrics', 'kvBytes', 'kvBytesFull', 'slotsPerLayer', 'promptTokens', 'contextLength', 'depth', 'prefillMs', 'compressMs', 'decodeMs', 'output', 'seed', 'version', 'cellKey']) {
      assert.ok(f in r, `${f} missing from ${r.task}/${r.method}`);
    }
    const T = r.promptTokens;
    const kept = r.slotsPerLayer.reduce((a, b) => a + b, 0);
    assert.equal(r.slotsPerLayer.length, L);
    // Achieved budget, recomputed from the kept slots alone.
    assert.ok(Math.abs(r.budgetAchieved - kept / (T * L * H)) < 1e-12);
    // Bytes a stored value takes in the model's KV cache (loadModel's default: f16).
    const vb = kvTypeBytes(loaded!.backend.kvType);
    assert.equal(r.kvBytes, kept * headDim * 2 * vb);
    assert.equal(r.kvBytesFull, T * L * H * headDim * 2 * vb);
    if (r.method === 'full') {
      assert.equal(r.budgetRequested, 1);
      assert.equal(r.budgetAchieved, 1);
      assert.equal(r.kvBytes, r.kvBytesFull);
    } else {
      // Equal kept slots: ⌊b·T⌋ per head for every method (KVMerger in exact mode).
      const b = r.budgetRequested as number;
      assert.deepEqual(r.slotsPerLayer, new Array(L).fill(Math.floor(b * T) * H), `${r.method} ${b}`);
      if (r.method === 'kvmerger') {
        assert.equal((r.options as Record<string, unknown>)['budgetMode'], 'exact');
        // 'auto' shares stay 'auto' in options (same configuration at every budget), resolved in resolvedOptions.
        assert.equal((r.options as Record<string, unknown>)['recentRatio'], 'auto');
        assert.equal((r.resolvedOptions as Record<string, unknown>)['recentRatio'], b === 0.5 ? 0.17 : 0.08);
      }
    }
    if (r.task === 'fidelity') {
      assert.equal(r.promptTokens, 151, 'L = 150 content tokens + BOS');
      const metrics = r.metrics as Record<string, number>;
      assert.equal(metrics['tokens'], 23, 'k − 1 forced tokens measured');
      if (r.method === 'full') {
        assert.equal(r.score, 1);
        assert.equal(metrics['meanKL'], 0);
      } else assert.ok(metrics['meanKL']! > 0);
    } else {
      assert.equal(r.depth, 50);
      assert.equal(r.contextLength, 160);
      assert.equal(typeof r.output, 'string');
    }
  }
  // 35% keeps less than 50% for the same method and sample.
  const kv = (b: number) => rows.find((r) => r.task === 'fidelity' && r.method === 'kvmerger' && r.budgetRequested === b)!;
  assert.ok((kv(0.35).metrics as Record<string, number>)['meanKL']! >= 0);
  assert.ok((kv(0.35).kvBytes as number) < (kv(0.5).kvBytes as number));

  // Re-running the same grid does nothing: no forward pass at all.
  forwards = 0;
  const s2 = await runGrid(m, planGrid(m, spec()), { out: dir });
  assert.deepEqual([s2.ran, s2.skipped, s2.prefills, forwards], [0, 10, 0, 0]);

  // A torn last line (a run killed mid-write): the row is dropped and its cell runs again, once.
  const path = join(dir, 'results.jsonl');
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  writeFileSync(path, lines.slice(0, -1).join('\n') + '\n');
  appendFileSync(path, lines[lines.length - 1]!.slice(0, 40));
  const s3 = await runGrid(m, planGrid(m, spec()), { out: dir });
  assert.equal(s3.ran, 1);
  assert.ok(s3.tornBytes > 0);
  const after3 = readRows(dir);
  assert.equal(after3.length, 10);
  assert.equal(new Set(after3.map((r) => r.cellKey)).size, 10);

  // The same command in a fresh folder gives the same numbers (times apart).
  const dir2 = join(tmp, 'b');
  await runGrid(m, planGrid(m, spec()), { out: dir2 });
  assert.deepEqual(readRows(dir2).map(withoutTimes), rows.map(withoutTimes));
});

test('grid: bad input fails before any model work', { skip }, async () => {
  const m = await model();
  forwards = 0;
  const bad: [Partial<GridSpec>, RegExp][] = [
    [{ methods: ['full', 'nosuch'] }, /unknown method 'nosuch'/],
    [{ budgets: [0.5, 1.5] }, /--budgets: 1.5 is outside \(0, 1\]/],
    [{ budgets: [0] }, /outside \(0, 1\]/],
    [{ methodOptions: ['kvmerger.nosuch=1'] }, /unknown option 'nosuch' for method kvmerger/],
    [{ methodOptions: ['cam.x=1'] }, /method 'cam' is not in --methods/],
    [{ tasks: [{ task: getTask('passkey'), lengths: [600] }] }, /--lengths 600 .* above the model's context of 512/],
    [{ tasks: [{ task: getTask('fidelity'), lengths: [500] }] }, /exceed the model's context of 512/],
  ];
  for (const [over, re] of bad) assert.throws(() => planGrid(m, spec(over)), (e: unknown) => e instanceof KvError && re.test(e.message), re.source);
  assert.equal(forwards, 0);
});

test('grid: ppl-stream keeps the budget while decoding and leaves out methods that cannot', { skip }, async () => {
  const m = await model();
  const dir = join(tmp, 'stream');
  // kvmerger merges while decoding since issue 19 (when=decode); snapkv still has no decode-time policy
  const plan = planGrid(m, spec({ tasks: [{ task: getTask('ppl-stream'), lengths: [120], options: { promptTokens: 40 } }], methods: ['full', 'h2o', 'kvmerger', 'snapkv'], budgets: [0.5] }));
  assert.equal(plan.totalCells, 3);
  assert.match(plan.notes.join('\n'), /snapkv left out: no decode-time compression/);
  await runGrid(m, plan, { out: dir });
  const rows = readRows(dir);
  const h2o = rows.find((r) => r.method === 'h2o')!;
  // The run used when=decode; the row's options stay the user's configuration (one table row per method).
  assert.equal((h2o.resolvedOptions as Record<string, unknown>)['when'], 'decode');
  assert.equal((h2o.options as Record<string, unknown>)['when'], 'prefill');
  assert.equal(h2o.decodeCompression, true);
  // After 121 tokens (BOS + 40 + 80) every head holds ⌊0.5 · 121⌋ = 60 slots.
  assert.deepEqual(h2o.slotsPerLayer, new Array(5).fill(60 * 4));
  assert.ok(Math.abs(h2o.budgetAchieved - 60 / 121) < 1e-12);
  assert.equal(rows.find((r) => r.method === 'full')!.budgetAchieved, 1);
  // KVMerger holds its layers' budget (⌊0.5 · 121⌋ slots per KV head, counted over each layer) by merging
  const kvm = rows.find((r) => r.method === 'kvmerger')!;
  assert.equal((kvm.resolvedOptions as Record<string, unknown>)['when'], 'decode');
  assert.deepEqual(kvm.slotsPerLayer, new Array(5).fill(60 * 4));
});
