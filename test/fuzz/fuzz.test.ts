// A seeded, bounded pass of scripts/fuzz.ts (3,000 mutated GGUF models and vocabularies, llama2.c, tokenizer.bin, tokenizer.json
// files): each loads and runs correctly or fails with a one-line KvError; no other exception, no case slower than
// 3 s. It runs in a child under a 4 GB address-space limit, so a crash or a huge allocation fails the test too.
// Then the regressions the fuzzer found, as fixed cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { loadModel } from '../../src/model/load-model.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { KvError } from '../../src/util/errors.js';
import { writeChatModel } from '../helpers/chat-model.js';
import { llama2cTokenizerBytes } from '../helpers/bad-files.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-fuzzt-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('fuzz: 5 × 600 mutated files, each loads or fails cleanly (child process, ulimit -v 4 GB)', { timeout: 120_000 }, () => {
  const t0 = performance.now();
  const r = spawnSync(
    'bash',
    ['-c', `ulimit -v 4000000; exec "${process.execPath}" --no-expose-wasm --import tsx scripts/fuzz.ts --cases 600 --seed 17 --slow-ms 3000 --json`],
    { cwd: root, encoding: 'utf8', timeout: 110_000, maxBuffer: 64 << 20 },
  );
  assert.equal(r.signal, null, `fuzz child killed by ${r.signal}: ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const s = JSON.parse(line) as { cases: number; loaded: number; rejected: number; failures: { format: string; index: number; mutation: string; error: string }[] };
  const shown = s.failures.slice(0, 5).map((f) => `${f.format} case ${f.index} (${f.mutation}): ${f.error}`).join('\n');
  assert.equal(s.failures.length, 0, `${s.failures.length} failures (rerun: npx tsx scripts/fuzz.ts --cases 600 --seed 17):\n${shown}`);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.equal(s.cases, 3000);
  // both outcomes are exercised: the fuzzer is not only breaking headers
  assert.ok(s.loaded > 300 && s.rejected > 1000, `${s.loaded} loaded, ${s.rejected} rejected`);
  process.stderr.write(`fuzz: ${s.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
});

test('fuzz on the ort backend: 2 × 150 mutated models load and run on the fast path or fail cleanly', { timeout: 120_000 }, () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', '--cases', '150', '--seed', '19', '--formats', 'gguf,llama2c', '--backend', 'ort', '--slow-ms', '5000', '--json'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 110_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr.slice(-2000)}`);
  const s = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { cases: number; loaded: number; failures: { format: string; index: number; error: string }[] };
  assert.deepEqual(s.failures, []);
  assert.equal(s.cases, 300);
  assert.ok(s.loaded > 30);
});

test('found by the fuzzer: a tensor dimension changed in the table is one KvError naming the tensor', async () => {
  const path = join(dir, 'dims.gguf');
  writeChatModel(path, undefined, { contextLength: 32 });
  const g = openGGUF(path);
  const t = g.tensor('blk.0.attn_k.weight')!;
  g.close();
  // rewrite its row count (ne1) in the tensor table: find the name, then its dims
  const bytes = new Uint8Array((await import('node:fs')).readFileSync(path));
  const name = new TextEncoder().encode('blk.0.attn_k.weight');
  let at = -1;
  for (let i = 0; i < bytes.length - name.length && at < 0; i++) if (name.every((b, j) => bytes[i + j] === b)) at = i;
  const dimsAt = at + name.length + 4; // after the name: u32 n_dims, then u64 dims
  const dv = new DataView(bytes.buffer);
  assert.equal(Number(dv.getBigUint64(dimsAt + 8, true)), t.dims[1]);
  dv.setBigUint64(dimsAt, 16n, true); // [32, 16] → [16, 16]... keep the byte size valid: halve ne0, double ne1
  dv.setBigUint64(dimsAt + 8, BigInt(t.dims[1]! * 2), true);
  const fd = openSync(path, 'w');
  writeSync(fd, bytes);
  closeSync(fd);
  await assert.rejects(loadModel(path, { backend: 'reference' }), (e: Error) =>
    e instanceof KvError && /tensor 'blk\.0\.attn_k\.weight' has shape \[32, 16\] but the model's configuration implies \[16, 32\]/.test(e.message),
  );
});

test('found by the fuzzer: a tokenizer.bin cut inside its 256 byte tokens is rejected (byte fallback would overflow)', () => {
  const full = llama2cTokenizerBytes();
  let o = 4;
  for (let i = 0; i < 100; i++) o += 8 + new DataView(full.buffer).getInt32(o + 4, true);
  const path = join(dir, 'cut.bin');
  writeFileSync(path, full.subarray(0, o));
  assert.throws(() => loadTokenizer(path), (e: Error) => e instanceof KvError && /cut\.bin: not a valid llama2\.c tokenizer\.bin \(only 100 tokens; a llama2\.c vocabulary starts with <unk>, <s>, <\/s> and the 256 byte tokens\)/.test(e.message));
  const swapped = full.slice();
  // token 13's text: after the header, <unk> (5 bytes), BOS (5), EOS (6), ten byte tokens (6 each), its own 8
  new TextEncoder().encodeInto('<0x99>', swapped.subarray(4 + (8 + 5) + (8 + 5) + (8 + 6) + 10 * (8 + 6) + 8));
  writeFileSync(path, swapped);
  assert.throws(() => loadTokenizer(path), /token 13 should be the byte token <0x0A>/);
});

test('found by the fuzzer: a block_count of 2^30 + 1 is one KvError, not an out-of-memory abort (info, load)', async () => {
  const { gguf, writeGGUF } = await import('../../src/formats/gguf-writer.js');
  const { openModelFile } = await import('../../src/formats/open-model-file.js');
  const { summarizeModel } = await import('../../src/formats/model-summary.js');
  const path = join(dir, 'layers.gguf');
  writeGGUF(path, {
    metadata: {
      'general.architecture': 'llama',
      'llama.block_count': gguf.u32(2 ** 30 + 1),
      'llama.embedding_length': gguf.u32(32),
      'llama.feed_forward_length': gguf.u32(48),
      'llama.attention.head_count': gguf.u32(4),
      'llama.context_length': gguf.u32(32),
      'llama.vocab_size': gguf.u32(8),
    },
    tensors: [{ name: 'output_norm.weight', dims: [32], type: 'F32', data: new Float32Array(32).fill(1) }],
  });
  const f = openModelFile(path);
  assert.match(f.configError ?? '', /llama\.block_count = 1073741825 layers, more than any model has \(at most 4096 read\); the file is damaged/);
  JSON.stringify(summarizeModel(f));
  f.close();
  await assert.rejects(loadModel(path, { backend: 'reference' }), /block_count = 1073741825 layers/);
});
