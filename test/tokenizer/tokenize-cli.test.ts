// loadTokenizer's detection by content and errors, and `kvmerger tokenize` run as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { sharedData } from '../helpers/shared-data.js';

const data = sharedData();
const skip = data && sharedData('tokenizer-tests') && sharedData('models') ? false : 'needs ../shared/data (absent)';

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'tokenize', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('loadTokenizer recognises files by content, not by name', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-tok-'));
  try {
    const gguf = join(dir, 'renamed.json');
    copyFileSync(join(data!, 'tokenizer-tests/ggml-vocab-llama-spm.gguf'), gguf);
    assert.equal(loadTokenizer(gguf).family, 'spm');
    const bin = join(dir, 'vocab.gguf');
    copyFileSync(join(data!, 'models/tok512.bin'), bin);
    assert.equal(loadTokenizer(bin).vocabSize, 512);
    const json = join(dir, 'tok.bin');
    copyFileSync(join(data!, 'models/smollm2-135m/tokenizer.json'), json);
    assert.equal(loadTokenizer(json).vocabSize, 49152);

    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'just some text, not a tokenizer\n');
    assert.throws(() => loadTokenizer(junk), /junk\.txt: no tokenizer found: expected a GGUF with tokenizer\.ggml\.\* metadata, a llama2\.c tokenizer\.bin or a Hugging Face tokenizer\.json/);
    assert.throws(() => loadTokenizer(join(data!, 'models/smollm2-135m/config.json')), /config\.json: no tokenizer found.*no "model"/);
    assert.throws(() => loadTokenizer(join(data!, 'models/stories260K.bin')), /stories260K\.bin: no tokenizer found.*llama2\.c checkpoint.*tokenizer\.bin/);
    assert.throws(() => loadTokenizer(join(dir, 'missing.gguf')), /missing\.gguf: no such file/);
    assert.throws(() => loadTokenizer(dir), /is a directory/);
    assert.throws(() => loadTokenizer(join(data!, 'tokenizer-tests/ggml-vocab-bert-bge.gguf')), /unsupported tokenizer.*bert, WordPiece.*supported: llama \(SentencePiece BPE\), gpt2 \(byte-level BPE\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kvmerger tokenize --json prints exactly one object with the ids', { skip }, () => {
  const spm = join(data!, 'tokenizer-tests/ggml-vocab-llama-spm.gguf');
  const r = cli('--model', spm, '--text', 'Hello world', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { ids: [1, 15043, 3186] });
  assert.equal(r.stdout.trim().split('\n').length, 1);
  // --no-special: no BOS, and "</s>" is text (llama.cpp's test-vector setting)
  const n = cli('--model', spm, '--text', 'Hello world</s>', '--no-special', '--json');
  const ids = (JSON.parse(n.stdout) as { ids: number[] }).ids;
  assert.deepEqual(ids.slice(0, 2), [15043, 3186]);
  assert.ok(!ids.includes(1) && !ids.includes(2));
  // without it the same text ends with EOS (what the command runs, without spawning again)
  assert.deepEqual(loadTokenizer(spm).encode('Hello world</s>'), [1, 15043, 3186, 2]);
});

test('kvmerger tokenize: pieces without --json; --text-file; tokenizer.bin and tokenizer.json; errors exit 1', { skip }, () => {
  const r = cli('--model', join(data!, 'models/llama2c-tokenizer.bin'), '--text', 'I believe');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\s*1\s+"\\n<s>\\n"/m);
  assert.match(r.stdout, /^\s*306\s+" I"\s+" I"$/m);
  assert.match(r.stdout, /^3 tokens$/m);

  const dir = mkdtempSync(join(tmpdir(), 'kvm-tok-'));
  try {
    const f = join(dir, 'p.txt');
    writeFileSync(f, 'I have 12345 apples');
    const j = cli('--model', join(data!, 'models/smollm2-135m/tokenizer.json'), '--text-file', f, '--json');
    assert.equal(j.code, 0, j.stderr);
    assert.equal((JSON.parse(j.stdout) as { ids: number[] }).ids.length, 9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const missing = cli('--model', join(data!, 'nope.gguf'), '--text', 'x');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^kvmerger: .*nope\.gguf: no such file; check the path\n$/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /, 'no stack trace');
});
