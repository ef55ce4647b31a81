// Native llama.cpp in the bench: the llama-bench command lines, the parsing of its JSON output (fixtures captured from
// this llama.cpp version's llama-bench), finding a build, and the table. The tests at the end run native llama-bench and
// llama-quantize where scripts/build-llama-cpp.sh has built them, and skip with a message otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromHf, findBenchShape, tensorShapes, writeRandomGGUF } from '../../src/bench/bench-models.js';
import { medianRows, workerFailure } from '../../src/bench/bench-runner.js';
import type { BenchRow } from '../../src/bench/bench-row.js';
import { benchTable } from '../../src/bench/bench-table.js';
import {
  bundleCommit,
  findNativeLlamaCpp,
  llamaBenchArgs,
  llamaQuantizeArgs,
  nativeFailure,
  parseLlamaBenchOutput,
  runLlamaBench,
  runNative,
  shellLine,
} from '../../src/bench/native-llama-cpp.js';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { smallConfig } from '../helpers/random-model.js';
import { KvError } from '../../src/util/errors.js';

const fixture = (name: string) => readFileSync(join('test/fixtures/llama-bench', name), 'utf8');

test('llama-bench command lines: prefill -p N -n 0, decode -p 0 -n M -d N, same threads and batch, CPU only, JSON lines', () => {
  const base = { model: '/m/x.gguf', threads: 1, batch: 512, kvType: 'f16', repetitions: 1 };
  assert.deepEqual(llamaBenchArgs({ ...base, promptTokens: 512, genTokens: 0, depth: 0 }), [
    '-m', '/m/x.gguf', '-p', '512', '-n', '0', '-d', '0', '-t', '1', '-b', '512', '-ub', '512', '-ctk', 'f16', '-ctv', 'f16', '-ngl', '0', '-r', '1', '-o', 'jsonl',
  ]);
  const dec = llamaBenchArgs({ ...base, threads: 2, promptTokens: 0, genTokens: 32, depth: 2048, kvType: 'q8_0', repetitions: 3 });
  assert.equal(shellLine('llama-bench', dec), 'llama-bench -m /m/x.gguf -p 0 -n 32 -d 2048 -t 2 -b 512 -ub 512 -ctk q8_0 -ctv q8_0 -ngl 0 -r 3 -o jsonl');
  assert.equal(shellLine('a', ["it's", 'b c']), `a 'it'\\''s' 'b c'`);
  assert.deepEqual(llamaQuantizeArgs('in.gguf', 'out.gguf', 'q4_k_m', 2), ['in.gguf', 'out.gguf', 'Q4_K_M', '2']);
});

test('llama-bench output: -o json (an array) and -o jsonl (one object a line) parse to the same fields', () => {
  const [p] = parseLlamaBenchOutput(fixture('prefill-64.json'));
  assert.ok(p);
  assert.equal(p.nPrompt, 64);
  assert.equal(p.nGen, 0);
  assert.equal(p.nDepth, 0);
  assert.equal(p.nThreads, 1);
  assert.equal(p.typeK, 'f16');
  assert.equal(p.flashAttn, -1);
  assert.equal(p.buildCommit, 'de3ff81');
  assert.equal(p.samplesTs.length, 2);
  assert.ok(p.avgTs > 0 && Math.abs(p.avgTs - (p.samplesTs[0]! + p.samplesTs[1]!) / 2) / p.avgTs < 0.05);
  const d = parseLlamaBenchOutput(fixture('decode-16-at-128-256.jsonl'));
  assert.deepEqual(d.map((r) => [r.nPrompt, r.nGen, r.nDepth]), [[0, 16, 128], [0, 16, 256]]);
  assert.ok(d.every((r) => r.avgTs > 0 && r.modelType.startsWith('llama')));
  // nothing printed: no results; a broken line or a missing field: a KvError naming it
  assert.deepEqual(parseLlamaBenchOutput('  \n'), []);
  assert.throws(() => parseLlamaBenchOutput('{"n_prompt": 1'), (e: unknown) => e instanceof KvError && /line 1: not JSON/.test((e as Error).message));
  assert.throws(() => parseLlamaBenchOutput('[{"n_prompt": 1, "n_gen": 0}]'), (e: unknown) => e instanceof KvError && /'n_threads' is missing in test 0/.test((e as Error).message));
});

test('the bundle commit comes from the git bundle header; KVMERGER_LLAMA_CPP_DIR picks the build folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-native-'));
  const saved = process.env.KVMERGER_LLAMA_CPP_DIR;
  try {
    const sha = 'de3ff815ea7d559ee917f063901b8986f038abc6';
    writeFileSync(join(dir, 'b.bundle'), `# v2 git bundle\n${sha} HEAD\n\nPACK...`);
    assert.equal(bundleCommit(join(dir, 'b.bundle')), sha);
    writeFileSync(join(dir, 'c.bundle'), 'not a bundle');
    assert.equal(bundleCommit(join(dir, 'c.bundle')), undefined);
    process.env.KVMERGER_LLAMA_CPP_DIR = join(dir, 'build');
    assert.equal(findNativeLlamaCpp(), undefined);
    mkdirSync(join(dir, 'build', 'bin'), { recursive: true });
    writeFileSync(join(dir, 'build', 'bin', 'llama-bench'), '');
    writeFileSync(join(dir, 'build', 'build-info.json'), JSON.stringify({ commit: sha, buildNumber: '1' }));
    const n = findNativeLlamaCpp();
    assert.deepEqual(n && { tools: Object.keys(n.tools), commit: n.commit }, { tools: ['llama-bench'], commit: sha });
  } finally {
    if (saved === undefined) delete process.env.KVMERGER_LLAMA_CPP_DIR;
    else process.env.KVMERGER_LLAMA_CPP_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench shapes: names from the config files, loose matches (llama2-7b, mistral-7b), each model_type its GGUF architecture', { skip: findBenchShape('tinyllama-1.1b') ? false : 'no ../shared/data/models/configs' }, () => {
  assert.equal(findBenchShape('llama2-7b')?.name, 'llama-2-7b');
  assert.equal(findBenchShape('mistral-7b')?.name, 'mistral-7b-v0.2');
  const llama2 = findBenchShape('llama-2-7b')!.config!;
  assert.deepEqual([llama2.blockCount, llama2.embeddingLength, llama2.headCountKv, llama2.feedForwardLength, llama2.tiedEmbeddings], [32, 4096, 32, 11008, false]);
  assert.equal(findBenchShape('mistral-7b')!.config!.architecture, 'llama');
  assert.equal(findBenchShape('qwen2.5-0.5b')!.config!.attentionBias, true);
  assert.deepEqual([findBenchShape('gemma-3-1b')!.config!.architecture, findBenchShape('phi3-mini')!.config!.architecture, findBenchShape('qwen3')!.config!.architecture], ['gemma3', 'phi3', 'qwen3']);
  assert.equal(findBenchShape('llama'), undefined); // several match
});

const row = (engine: BenchRow['engine'], promptTokens: number, prefill: number | null, decode: number | null, extra: Partial<BenchRow> = {}): BenchRow => ({
  engine,
  model: 'm',
  weights: 'q4_0',
  promptTokens,
  prefillTokensPerSecond: prefill,
  decodeTokensPerSecond: decode,
  method: null,
  budget: null,
  compressMs: null,
  peakRssBytes: 2 ** 20 * 100,
  ...extra,
});

test('the table: every engine side by side, kvmerger / native ratios, a failed engine says why in the note', () => {
  const rows = [
    row('kvmerger', 512, 200, 10),
    row('llama.cpp-native', 512, 100, 20),
    row('node-llama-cpp', 512, 150, 5),
    row('kvmerger', 2048, null, null, { error: 'out of memory', peakRssBytes: null }),
    row('llama.cpp-native', 2048, 80, 16),
  ];
  const t = benchTable(rows, ['a note']).split('\n');
  assert.match(t[0]!, /prefill tok\/s kvmerger \| native \| node-llama-cpp \| kvmerger \/ native \| decode tok\/s kvmerger/);
  assert.equal(t[2], '| m | q4_0 | 512 | 200 | 100 | 150 | 2.00 | 10.00 | 20.00 | 5.00 | 0.50 | 100 | 100 | 100 |  |');
  assert.equal(t[3], '| m | q4_0 | 2048 | failed | 80.0 | — | — | failed | 16.00 | — | — | — | 100 | — | kvmerger: out of memory |');
  assert.equal(t.at(-1), 'note: a note');
  // without native, ratios are to node-llama-cpp
  assert.match(benchTable(rows.filter((r) => r.engine !== 'llama.cpp-native')).split('\n')[0]!, /kvmerger \/ node-llama-cpp/);
  // medians leave failed repeats out; a row that failed every time keeps its error
  const m = medianRows([row('kvmerger', 512, 100, 10), row('kvmerger', 512, null, null, { error: 'x' }), row('kvmerger', 512, 300, 30), row('kvmerger', 64, null, null, { error: 'y' })]);
  assert.deepEqual(m.map((r) => [r.promptTokens, r.prefillTokensPerSecond, r.error]), [[512, 200, undefined], [64, null, 'y']]);
});

const native = findNativeLlamaCpp();
const skipNative = native ? false : 'native llama.cpp is not built (npm run build:llama-cpp)';

test('native llama-bench on a tiny random GGUF: a prefill and a decode-at-depth row', { skip: skipNative }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-native-run-'));
  try {
    const path = join(dir, 'tiny.gguf');
    writeRandomGGUF(path, smallConfig({ vocabSize: 320, blockCount: 2, embeddingLength: 64, feedForwardLength: 96 }), 'q4_0');
    const base = { model: path, threads: 1, batch: 64, kvType: 'f16', repetitions: 1 };
    const p = await runLlamaBench(native!, { ...base, promptTokens: 32, genTokens: 0, depth: 0 });
    const d = await runLlamaBench(native!, { ...base, promptTokens: 0, genTokens: 4, depth: 32 });
    assert.deepEqual([p.results[0]!.nPrompt, p.results[0]!.nGen, d.results[0]!.nGen, d.results[0]!.nDepth], [32, 0, 4, 32]);
    assert.ok(p.results[0]!.avgTs > 0 && d.results[0]!.avgTs > 0);
    assert.ok(p.peakRssBytes === null || p.peakRssBytes > 1e6);
    assert.match(p.command, /^llama-bench -m .*tiny\.gguf -p 32 -n 0 -d 0 -t 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('our Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 bytes equal native llama-quantize --pure on the same F32 file', { skip: native?.tools['llama-quantize'] ? false : 'native llama-quantize is not built (npm run build:llama-cpp)' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-native-q-'));
  try {
    const c = smallConfig({ vocabSize: 320, blockCount: 1, embeddingLength: 64, feedForwardLength: 96 });
    const f32 = join(dir, 'f32.gguf');
    writeRandomGGUF(f32, c, 'f32');
    for (const type of ['q4_0', 'q4_1', 'q5_0', 'q5_1', 'q8_0'] as const) {
      const ours = join(dir, `${type}.gguf`);
      const theirs = join(dir, `${type}-native.gguf`);
      writeRandomGGUF(ours, c, type);
      await runNative(native!.tools['llama-quantize']!, ['--pure', f32, theirs, type.toUpperCase(), '1']);
      const a = openGGUF(ours);
      const b = openGGUF(theirs);
      try {
        const name = 'blk.0.ffn_up.weight';
        assert.equal(b.tensor(name)!.typeName, type.toUpperCase());
        assert.deepEqual(Buffer.from(a.readTensorBytes(name)), Buffer.from(b.readTensorBytes(name)), `${type}: ${name} differs from llama-quantize's`);
      } finally {
        a.close();
        b.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--engines: the three names; llama.cpp alone is ambiguous now; --full widens the defaults', async () => {
  const { parseEngines, BENCH_DEFAULTS } = await import('../../src/cli/commands/bench.js');
  assert.deepEqual(parseEngines('kvmerger,llama.cpp-native,node-llama-cpp'), ['kvmerger', 'llama.cpp-native', 'node-llama-cpp']);
  assert.throws(() => parseEngines('kvmerger,llama.cpp'), (e: unknown) => e instanceof KvError && /ambiguous; use llama\.cpp-native \(llama-bench\) or node-llama-cpp/.test((e as Error).message));
  assert.throws(() => parseEngines('vllm'), (e: unknown) => e instanceof KvError && /unknown engine 'vllm'/.test((e as Error).message));
  assert.deepEqual(BENCH_DEFAULTS.plain.lengths.split(','), ['512', '2048']);
  assert.ok(BENCH_DEFAULTS.full.weights.includes('q4_k_m') && BENCH_DEFAULTS.full.lengths.includes('8192'));
});

test('the GGUF writer makes a lazily given tensor when it writes it (random models are written one tensor at a time)', async () => {
  const { writeGGUF } = await import('../../src/formats/gguf-writer.js');
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-lazy-'));
  try {
    const made: string[] = [];
    const lazy = (name: string, v: number) => () => {
      made.push(name);
      return new Float32Array(64).fill(v);
    };
    const path = join(dir, 'lazy.gguf');
    writeGGUF(path, { metadata: { 'general.architecture': 'llama' }, tensors: [{ name: 'a', dims: [64], type: 'F32', data: lazy('a', 1) }, { name: 'b', dims: [64], type: 'Q4_0', data: lazy('b', 2) }] });
    assert.deepEqual(made, ['a', 'b']);
    const g = openGGUF(path);
    try {
      assert.deepEqual([g.tensor('a')!.typeName, g.tensor('b')!.typeName], ['F32', 'Q4_0']);
    } finally {
      g.close();
    }
    // a lazily made tensor of the wrong size is the same KvError as an eager one
    assert.throws(() => writeGGUF(join(dir, 'bad.gguf'), { metadata: {}, tensors: [{ name: 'c', dims: [64], type: 'F32', data: () => new Float32Array(3) }] }), (e: unknown) => e instanceof KvError && /'c': 3 values/.test((e as Error).message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A tiny config.json of each architecture the bench writes. */
const tinyHf = (model_type: string, extra: Record<string, unknown> = {}) => ({
  model_type, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 320,
  max_position_embeddings: 256, tie_word_embeddings: false, ...extra,
});
const TINY = {
  qwen3: tinyHf('qwen3', { head_dim: 32, tie_word_embeddings: true }),
  gemma3: tinyHf('gemma3_text', { head_dim: 32, num_key_value_heads: 1, sliding_window: 16, tie_word_embeddings: true }),
  phi3: tinyHf('phi3', { num_key_value_heads: 4 }),
};

test('random GGUFs of qwen3, gemma3 and phi3 shapes carry their architecture\'s tensors (q/k norms, post-norms, fused qkv and gate/up)', () => {
  const names = (j: Record<string, unknown>) => tensorShapes(configFromHf(j, 't', 'x')).map(([n, s]) => `${n}:${s.join('x')}`).filter((n) => n.startsWith('blk.0.'));
  assert.deepEqual(names(TINY.qwen3), ['blk.0.attn_norm.weight:64', 'blk.0.attn_q.weight:128x64', 'blk.0.attn_k.weight:64x64', 'blk.0.attn_v.weight:64x64', 'blk.0.attn_q_norm.weight:32',
    'blk.0.attn_k_norm.weight:32', 'blk.0.attn_output.weight:64x128', 'blk.0.ffn_norm.weight:64', 'blk.0.ffn_gate.weight:96x64', 'blk.0.ffn_up.weight:96x64', 'blk.0.ffn_down.weight:64x96']);
  assert.ok(names(TINY.gemma3).includes('blk.0.post_attention_norm.weight:64') && names(TINY.gemma3).includes('blk.0.post_ffw_norm.weight:64'));
  assert.deepEqual(names(TINY.phi3).filter((n) => /qkv|ffn_up|gate/.test(n)), ['blk.0.attn_qkv.weight:192x64', 'blk.0.ffn_up.weight:192x64']);
  assert.deepEqual(configFromHf(TINY.gemma3, 't', 'x').slidingWindow, { size: 16, layers: [true, true] });
});

test('the one-line reason of a failed engine: llama.cpp\'s error line, the CLI\'s "kvmerger: ..." line, not a stack frame', () => {
  assert.equal(nativeFailure('load: x\nllama_model_load: error loading model: unordered_map::at\nllama_bench: error: failed to load model\n'), ': llama_model_load: error loading model: unordered_map::at');
  assert.equal(nativeFailure(''), '');
  assert.equal(workerFailure(['loading', 'kvmerger: a 7B F32 model needs 27 GiB; 18 GiB available', '    at main (x.ts:1)']), 'a 7B F32 model needs 27 GiB; 18 GiB available');
  assert.equal(workerFailure(['RangeError: Array buffer allocation failed', 'at x (y.ts:1)']), 'RangeError: Array buffer allocation failed');
});

test('native llama-bench loads the bench\'s random qwen3, gemma3 and phi3 files', { skip: skipNative }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-native-arch-'));
  try {
    for (const [arch, j] of Object.entries(TINY)) {
      const path = join(dir, `${arch}.gguf`);
      writeRandomGGUF(path, configFromHf(j, `tiny-${arch}`, arch), 'q8_0');
      const r = await runLlamaBench(native!, { model: path, threads: 1, batch: 16, kvType: 'f16', repetitions: 1, promptTokens: 16, genTokens: 0, depth: 0 });
      assert.ok(r.results[0]!.avgTs > 0, arch);
      assert.match(r.results[0]!.modelType, new RegExp(arch === 'gemma3' ? 'gemma3' : arch), arch);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('scripts/build-llama-cpp.sh is idempotent: a second run finds the build and exits at once', { skip: native && Object.keys(native.tools).length === 4 ? false : 'native llama.cpp is not (fully) built (npm run build:llama-cpp)' }, async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('bash', ['scripts/build-llama-cpp.sh'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, KVMERGER_LLAMA_CPP_DIR: native!.dir } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /already built in .*bin.*nothing to do/);
});
