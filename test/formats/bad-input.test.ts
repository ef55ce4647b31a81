// Bad input: nonexistent paths, wrong magic, unsupported versions, unknown tensor types, truncation, and a seeded fuzz
// over truncated and byte-flipped variants of a valid GGUF: every variant gives a KvError or reads, never another
// exception, a hang or a huge allocation. Also the CLI's behaviour on bad files (exit 1, one line, no stack trace).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { canDequantize } from '../../src/formats/dequantize.js';
import { gguf, writeGGUF } from '../../src/formats/gguf-writer.js';
import { openModelFile } from '../../src/formats/open-model-file.js';
import { summarizeModel } from '../../src/formats/model-summary.js';
import { KvError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-bad-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A small valid GGUF: metadata of every type (arrays, nested) and tensors of several types. */
function validFile(): string {
  const path = join(dir, 'valid.gguf');
  const rawQ4K = new Uint8Array(144).map((_, i) => (i * 29 + 7) & 255);
  const rawQ6K = new Uint8Array(210).map((_, i) => (i * 53 + 1) & 255);
  rawQ6K[208] = 0x00;
  rawQ6K[209] = 0x30; // d = 0.125, keeps values finite
  writeGGUF(path, {
    metadata: {
      'general.architecture': 'llama',
      'general.name': 'fuzz',
      'llama.block_count': gguf.u32(1),
      'llama.embedding_length': gguf.u32(32),
      'llama.feed_forward_length': gguf.u32(64),
      'llama.attention.head_count': gguf.u32(4),
      'llama.context_length': gguf.u32(64),
      'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
      'k.u8': gguf.u8(1),
      'k.i8': gguf.i8(-1),
      'k.u16': gguf.u16(2),
      'k.i16': gguf.i16(-2),
      'k.i32': gguf.i32(-3),
      'k.f64': gguf.f64(0.25),
      'k.bool': true,
      'k.u64': gguf.u64(5),
      'k.i64': gguf.i64(-5),
      'tokenizer.ggml.tokens': gguf.strArr(['<s>', '</s>', 'a', 'b', 'ab']),
      'tokenizer.ggml.scores': gguf.f32Arr([0, 0, -1, -2, -3]),
      'tokenizer.ggml.token_type': gguf.i32Arr([3, 3, 1, 1, 1]),
      'k.nested': gguf.nested([gguf.strArr(['x']), gguf.u32Arr([1, 2])]),
    },
    tensors: [
      { name: 'token_embd.weight', dims: [32, 5], type: 'F16', data: new Float32Array(160).map((_, i) => i / 10) },
      { name: 'blk.0.attn_q.weight', dims: [32, 32], type: 'Q8_0', data: new Float32Array(1024).map((_, i) => Math.sin(i)) },
      { name: 'output_norm.weight', dims: [32], type: 'F32', data: new Float32Array(32).fill(1) },
      { name: 'blk.0.ffn_up.weight', dims: [256], type: 'Q4_K', data: rawQ4K },
      { name: 'blk.0.ffn_down.weight', dims: [256], type: 'Q6_K', data: rawQ6K },
    ],
  });
  return path;
}

/** Opens and reads everything; returns normally or throws. */
function readEverything(path: string): void {
  const g = openGGUF(path);
  try {
    for (const t of g.tensors) {
      if (canDequantize(t.typeName)) g.readTensorF32(t.name);
      else g.readTensorBytes(t.name);
    }
  } finally {
    g.close();
  }
  // The info path too: model description and summary over whatever metadata survived.
  const m = openModelFile(path);
  try {
    JSON.stringify(summarizeModel(m));
  } finally {
    m.close();
  }
}

test('nonexistent path, a directory, wrong magic, GGUF v1, big-endian GGUF, an empty file', () => {
  assert.throws(() => openGGUF(join(dir, 'nope.gguf')), (e: unknown) => e instanceof KvError && /nope\.gguf: no such file; check the path/.test(e.message));
  assert.throws(() => openModelFile(join(dir, 'nope.gguf')), /nope\.gguf: no such file/);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  assert.throws(() => openGGUF(sub), /is a directory/);
  assert.throws(() => openModelFile(sub), /is a directory/);
  const wrong = join(dir, 'wrong.gguf');
  writeFileSync(wrong, Buffer.from('GGML\x03\x00\x00\x00 and more bytes here'));
  assert.throws(() => openGGUF(wrong), /wrong\.gguf: not a GGUF file \(magic number 0x4c4d4747, expected "GGUF"\)/);
  const v1 = Buffer.from(readFileSync(validFile()));
  v1.writeUInt32LE(1, 4);
  writeFileSync(wrong, v1);
  assert.throws(() => openGGUF(wrong), /GGUF version 1 is not supported/);
  v1.writeUInt32BE(3, 4);
  writeFileSync(wrong, v1);
  assert.throws(() => openGGUF(wrong), /big-endian GGUF files are not supported/);
  v1.writeUInt32LE(9, 4);
  writeFileSync(wrong, v1);
  assert.throws(() => openGGUF(wrong), /unsupported GGUF version 9/);
  writeFileSync(wrong, Buffer.alloc(0));
  assert.throws(() => openGGUF(wrong), KvError);
  assert.throws(() => openModelFile(wrong), /neither GGUF nor a llama2\.c checkpoint/);
});

test('an unknown tensor type id and a non-dequantisable type are KvErrors naming the tensor', () => {
  const path = join(dir, 'types.gguf');
  writeGGUF(path, { metadata: {}, tensors: [{ name: 'w', dims: [256], type: 'IQ2_XXS', data: new Uint8Array(66) }] });
  const g = openGGUF(path);
  assert.equal(g.tensor('w')!.typeName, 'IQ2_XXS');
  assert.throws(() => g.readTensorF32('w'), /tensor 'w' has type IQ2_XXS, which kvmerger cannot dequantise; supported: .*Q6_K; re-quantise/);
  g.close();
  const buf = readFileSync(path);
  // The type id is the u32 before the final u64 offset of the only tensor info: find it by value (16 = IQ2_XXS).
  const at = buf.indexOf(Buffer.from([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.ok(at > 0);
  buf.writeUInt32LE(77, at);
  writeFileSync(path, buf);
  assert.throws(() => openGGUF(path), /types\.gguf: tensor 'w' has unknown ggml type id 77/);
});

test('truncation in the data section names the tensor and the sizes', () => {
  const full = readFileSync(validFile());
  const path = join(dir, 'trunc.gguf');
  writeFileSync(path, full.subarray(0, full.length - 100));
  assert.throws(
    () => openGGUF(path),
    (e: unknown) =>
      e instanceof KvError &&
      new RegExp(`trunc\\.gguf: truncated: tensor 'blk\\.0\\.ffn_down\\.weight' needs bytes up to \\d+ but the file has ${full.length - 100} bytes; the download may be incomplete`).test(e.message),
  );
  writeFileSync(path, full.subarray(0, 200));
  assert.throws(() => openGGUF(path), /trunc\.gguf: truncated or corrupt GGUF header/);
});

test('length fields far beyond the file are rejected before any allocation', () => {
  const full = Buffer.from(readFileSync(validFile()));
  const path = join(dir, 'huge.gguf');
  // The first metadata key's length (right after the 24-byte preamble) claims 2^40 bytes.
  const b1 = Buffer.from(full);
  b1.writeBigUInt64LE(2n ** 40n, 24);
  writeFileSync(path, b1);
  assert.throws(() => openGGUF(path), /huge\.gguf: corrupt GGUF header: metadata key #0 claims 1099511627776 bytes/);
  // Tensor and metadata counts of 2^62.
  const b2 = Buffer.from(full);
  b2.writeBigUInt64LE(2n ** 62n, 8);
  writeFileSync(path, b2);
  assert.throws(() => openGGUF(path), /huge\.gguf: corrupt GGUF header: tensor count/);
  const b3 = Buffer.from(full);
  b3.writeBigUInt64LE(2n ** 50n, 16);
  writeFileSync(path, b3);
  assert.throws(() => openGGUF(path), /huge\.gguf: truncated or corrupt GGUF header: \d+ metadata entries/);
  // A token array that claims 2^50 strings.
  const tokens = full.indexOf(Buffer.from('tokenizer.ggml.tokens'));
  const b4 = Buffer.from(full);
  b4.writeBigUInt64LE(2n ** 50n, tokens + 'tokenizer.ggml.tokens'.length + 8);
  writeFileSync(path, b4);
  assert.throws(() => openGGUF(path), /array metadata 'tokenizer\.ggml\.tokens' of 1125899906842624 elements/);
});

test('fuzz: 400 truncated or byte-flipped variants each give a KvError or a clean read', () => {
  const full = readFileSync(validFile());
  readEverything(join(dir, 'valid.gguf'));
  const rng = new Rng(20240601);
  const path = join(dir, 'fuzz.gguf');
  let errors = 0;
  let reads = 0;
  const baseline = process.memoryUsage().arrayBuffers;
  for (let v = 0; v < 400; v++) {
    let bytes = Buffer.from(full);
    const mode = v % 3; // 0: truncate, 1: flip bytes, 2: both
    if (mode !== 1) bytes = bytes.subarray(0, rng.int(full.length));
    if (mode !== 0 && bytes.length > 0) {
      const flips = 1 + rng.int(4);
      for (let f = 0; f < flips; f++) {
        // Half the flips land in the header, where lengths and counts live.
        const at = rng.next() < 0.5 ? rng.int(Math.min(bytes.length, 700)) : rng.int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << rng.int(8));
      }
    }
    writeFileSync(path, bytes);
    const t0 = performance.now();
    try {
      readEverything(path);
      reads++;
    } catch (err) {
      if (!(err instanceof KvError)) {
        assert.fail(`variant ${v} (mode ${mode}, ${bytes.length} bytes) threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
      }
      assert.ok(err.message.includes('fuzz.gguf'), `variant ${v}: error does not name the file: ${err.message}`);
      errors++;
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `variant ${v} took ${ms.toFixed(0)} ms`);
    assert.ok(process.memoryUsage().arrayBuffers - baseline < 64 << 20, `variant ${v}: more than 64 MiB of buffers held`);
  }
  assert.ok(errors > 100 && reads > 20, `expected both outcomes (errors ${errors}, reads ${reads})`);
});

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('kvmerger info on bad files: exit 1, one line on stderr naming the file, no stack trace', () => {
  const bad = join(dir, 'cli-bad.gguf');
  const full = readFileSync(validFile());
  writeFileSync(bad, full.subarray(0, full.length - 50));
  const cases = [bad, join(dir, 'cli-missing.gguf')];
  const junk = join(dir, 'cli-junk.bin');
  writeFileSync(junk, 'hello world, not a model');
  cases.push(junk);
  for (const file of cases) {
    const r = cli('info', '--model', file);
    assert.equal(r.status, 1, `${file}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.startsWith('kvmerger: ') && lines[0]!.includes(file), r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, '');
  }
  const ok = cli('info', '--model', join(dir, 'valid.gguf'), '--json');
  assert.equal(ok.status, 0, ok.stderr);
  const s = JSON.parse(ok.stdout) as { architecture: string; tensorTypes: Record<string, number>; blockCount: number };
  assert.equal(s.architecture, 'llama');
  assert.deepEqual(s.tensorTypes, { F16: 1, Q8_0: 1, F32: 1, Q4_K: 1, Q6_K: 1 });
});
