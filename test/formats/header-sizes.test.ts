// Sizes from headers are checked against the file before anything is allocated: a llama2.c header claiming 2^30
// layers, a tokenizer.json id of 2e9, GGUF counts of 2^40, tokenizer.bin lengths of 2^31. Each is one KvError in
// well under a second, also for the CLI run under a 2 GB address-space limit (ulimit -v), where a large reservation
// would fail loudly. Also the malformed tokenizer files of issue 17 (null merges and added tokens, odd
// pre-tokenizers, an empty vocabulary, a truncated tokenizer.bin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { openLlama2cCheckpoint } from '../../src/formats/llama2c-checkpoint.js';
import { tokenizerFromHFJson } from '../../src/tokenizer/hf-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { loadModel } from '../../src/model/load-model.js';
import { KvError } from '../../src/util/errors.js';
import { byteLevelTokenizerJson, llama2cCheckpointBytes, llama2cTokenizerBytes, SMALL_LLAMA2C } from '../helpers/bad-files.js';

// Mutations reach into nested JSON freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = Record<string, any>;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-sizes-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** The checkpoint's bytes with header field `i` (0 dim .. 6 seq_len) set to `v`. */
function withHeader(i: number, v: number): Uint8Array {
  const b = llama2cCheckpointBytes();
  new DataView(b.buffer).setInt32(i * 4, v, true);
  return b;
}

function fastKvError(fn: () => unknown, re: RegExp): void {
  const t0 = performance.now();
  assert.throws(fn, (e: Error) => e instanceof KvError && re.test(e.message) && !e.message.includes('\n'));
  assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
}

// GGUF: header counts far beyond the file (tensor count, metadata count, an array length, a string length).
function ggufBytes(patch: (dv: DataView) => void): Uint8Array {
  const enc = new TextEncoder();
  const parts: number[] = [];
  const u32 = (x: number) => parts.push(x & 255, (x >>> 8) & 255, (x >>> 16) & 255, (x >>> 24) & 255);
  const u64 = (x: number) => {
    u32(x % 2 ** 32);
    u32(Math.floor(x / 2 ** 32));
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u64(b.length);
    parts.push(...b);
  };
  parts.push(...enc.encode('GGUF'));
  u32(3);
  u64(0); // tensors
  u64(2); // metadata
  str('general.architecture');
  u32(8);
  str('llama');
  str('tokenizer.ggml.tokens');
  u32(9);
  u32(8);
  u64(2);
  str('a');
  str('b');
  const out = Uint8Array.from(parts);
  patch(new DataView(out.buffer));
  return out;
}
const ARRAY_LEN_AT = 4 + 4 + 8 + 8 + (8 + 20) + 4 + (8 + 5) + (8 + 21) + 4 + 4;

const cases: { name: string; bytes: () => Uint8Array | string; re: RegExp }[] = [
  { name: 'llama2c-layers.bin', bytes: () => withHeader(2, 2 ** 30), re: /needs \d+ bytes but the file has \d+/ },
  { name: 'llama2c-dim.bin', bytes: () => withHeader(0, 2 ** 20), re: /needs \d+ bytes but the file has \d+/ },
  { name: 'llama2c-vocab.bin', bytes: () => withHeader(5, -(2 ** 31 - 1)), re: /needs \d+ bytes but the file has \d+/ },
  { name: 'llama2c-seq.bin', bytes: () => withHeader(6, 2 ** 31 - 1), re: /needs \d+ bytes but the file has \d+/ },
  { name: 'gguf-tensors.gguf', bytes: () => ggufBytes((dv) => dv.setBigUint64(8, 2n ** 40n, true)), re: /./ },
  { name: 'gguf-kv.gguf', bytes: () => ggufBytes((dv) => dv.setBigUint64(16, 2n ** 50n, true)), re: /./ },
  { name: 'gguf-array.gguf', bytes: () => ggufBytes((dv) => dv.setBigUint64(ARRAY_LEN_AT, 2n ** 50n, true)), re: /./ },
  { name: 'gguf-string.gguf', bytes: () => ggufBytes((dv) => dv.setBigUint64(24, 2n ** 60n, true)), re: /./ },
];

test('sizes in headers: a KvError before any allocation (openModelFile, openLlama2cCheckpoint)', () => {
  // the untouched files load
  const ok = openModelFile(file('ok.bin', llama2cCheckpointBytes()));
  assert.equal(ok.config.blockCount, SMALL_LLAMA2C.nLayers);
  ok.close();
  for (const c of cases) {
    const p = file(c.name, c.bytes());
    fastKvError(() => openModelFile(p).close(), c.re);
    if (c.name.startsWith('llama2c')) fastKvError(() => openLlama2cCheckpoint(p).close(), /llama2\.c checkpoint truncated: .* needs \d+ bytes/);
  }
});

test('tokenizer.json: ids of 2e9, null entries, odd pre-tokenizers, an empty vocabulary: one KvError each', () => {
  const good = byteLevelTokenizerJson();
  const t = tokenizerFromHFJson(good, 'good.json');
  assert.deepEqual(t.encode('hello hello', { addSpecial: false }), [259, 260]);
  const bad = (edit: (j: Loose) => void, re: RegExp) => {
    const j = structuredClone(good) as Loose;
    edit(j);
    fastKvError(() => tokenizerFromHFJson(j, 'bad.json'), re);
  };
  bad((j) => (j.model.vocab.zzz = 2e9), /bad\.json: model\.vocab gives zzz the id 2000000000, far beyond its 262 entries/);
  bad((j) => (j.added_tokens = [{ id: 2e9, content: '<x>' }]), /added_tokens\[0\] has the id 2000000000/);
  bad((j) => (j.model.vocab.zzz = -1), /model\.vocab has a bad id -1 for zzz/);
  bad((j) => (j.model.vocab.zzz = 1.5), /model\.vocab has a bad id 1\.5/);
  bad((j) => (j.model.merges = [null]), /model\.merges\[0\] is malformed \(null\)/);
  bad((j) => (j.model.merges = [['a']]), /model\.merges\[0\] is malformed/);
  bad((j) => (j.model.merges = 'a b'), /model\.merges is missing/);
  bad((j) => (j.added_tokens = [null]), /added_tokens\[0\] is malformed \(null\)/);
  bad((j) => (j.added_tokens = { id: 1 }), /added_tokens must be a list/);
  bad((j) => (j.added_tokens = [{ id: 5 }]), /added_tokens\[0\] is malformed/);
  bad((j) => (j.pre_tokenizer = { type: 'Sequence' }), /pre_tokenizer Sequence has no "pretokenizers" list/);
  bad((j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: 5 }), /pre_tokenizer Sequence has no "pretokenizers" list/);
  bad((j) => (j.pre_tokenizer = { type: 7 }), /pre-tokenizer 7 is not supported/);
  bad((j) => (j.pre_tokenizer = { type: { a: 1 } }), /pre-tokenizer \{"a":1\} is not supported/);
  bad((j) => (j.pre_tokenizer = [1]), /pre_tokenizer is malformed/);
  bad((j) => (j.pre_tokenizer = { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated' }), /regex '\(' is not supported/);
  bad((j) => (j.normalizer = { type: 'Sequence', normalizers: null }), /normalizer Sequence has no "normalizers" list/);
  bad((j) => (j.model.vocab = {}), /bad\.json: model\.vocab is empty/);
  bad((j) => (j.model.vocab = []), /model\.vocab is missing/);
  bad((j) => (j.model.vocab = { a: 0, b: 1 }), /model\.vocab lacks 93 of the 95 printable ASCII byte-level symbols/);
  bad((j) => delete j.model.vocab['h'], /lacks 1 of the 95 printable ASCII byte-level symbols \(e\.g\. h\)/);
});

test('tokenizer.bin: truncated (at a token boundary or inside one) or huge lengths: one KvError naming it', () => {
  const good = llama2cTokenizerBytes([' a', ' b', 'ab', 'abcdefghij']);
  assert.equal(loadTokenizer(file('tok.bin', good)).vocabSize, 263);
  // cut at the boundary before the last token, the longest (10 bytes; the longest left is 6)
  const cutBoundary = good.subarray(0, good.length - (8 + 10));
  fastKvError(() => loadTokenizer(file('cut1.bin', cutBoundary)), /cut1\.bin: not a valid llama2\.c tokenizer\.bin \(its header says the longest token has 10 bytes but the longest of its 262 tokens has 6: the file is truncated\)/);
  fastKvError(() => loadTokenizer(file('cut2.bin', good.subarray(0, good.length - 3))), /cut2\.bin: not a valid llama2\.c tokenizer\.bin \(token 262 has length 10\)/);
  const huge = good.slice();
  new DataView(huge.buffer).setInt32(8, 2 ** 31 - 1, true);
  fastKvError(() => loadTokenizer(file('huge.bin', huge)), /huge\.bin: not a valid llama2\.c tokenizer\.bin \(token 0 has length 2147483647\)/);
  const max = good.slice();
  new DataView(max.buffer).setInt32(0, 2 ** 31 - 1, true);
  fastKvError(() => loadTokenizer(file('max.bin', max)), /max\.bin: no tokenizer found/);
});

test('a llama2.c checkpoint with a tokenizer.bin of fewer tokens than its vocabulary: the clear error', async () => {
  const model = file('m300.bin', llama2cCheckpointBytes());
  const tok = file('tok266.bin', llama2cTokenizerBytes());
  await assert.rejects(loadModel(model, { tokenizerPath: tok, backend: 'reference' }), (e: Error) =>
    e instanceof KvError && /tok266\.bin: not a valid llama2\.c tokenizer\.bin \(266 tokens but the model's vocabulary has 300: the file is truncated or belongs to another model\)/.test(e.message),
  );
  const full = file('tok300.bin', llama2cTokenizerBytes(Array.from({ length: 41 }, (_, i) => `w${i}`)));
  const m = await loadModel(model, { tokenizerPath: full, backend: 'reference' });
  assert.equal(m.tokenizer.vocabSize, 300);
  await m.close();
});

test('the CLI under a 2 GB address-space limit (ulimit -v): one line, exit 1, for every header-size case', () => {
  const run = (args: string[]) =>
    spawnSync('bash', ['-c', `ulimit -v 2000000; exec "${process.execPath}" --no-expose-wasm --import tsx src/cli/main.ts "$@"`, 'sh', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
  const tj = structuredClone(byteLevelTokenizerJson()) as Loose;
  tj.model.vocab.zzz = 2e9;
  const huge = llama2cTokenizerBytes();
  new DataView(huge.buffer).setInt32(8, 2 ** 31 - 1, true);
  const runs: [string[], RegExp][] = [
    ...cases.map((c): [string[], RegExp] => [['info', '-m', file(c.name, c.bytes())], /./]),
    [['tokenize', '--tokenizer', file('tokenizer.json', JSON.stringify(tj)), '-p', 'hello'], /far beyond its 262 entries/],
    [['tokenize', '--tokenizer', file('huge.bin', huge), '-p', 'hello'], /token 0 has length 2147483647/],
    [['generate', '-m', file('layers.bin', withHeader(2, 2 ** 30)), '--tokenizer', file('tok.bin', llama2cTokenizerBytes()), '-p', 'hi'], /needs \d+ bytes but the file has/],
  ];
  for (const [args, re] of runs) {
    const r = spawnSync !== undefined ? run(args) : undefined;
    assert.equal(r!.status, 1, `${args.join(' ')}: ${r!.status} ${r!.signal} ${r!.stderr.slice(0, 400)}`);
    assert.match(r!.stderr, /^kvmerger: [^\n]+\n$/, args.join(' '));
    assert.match(r!.stderr, re);
  }
});
