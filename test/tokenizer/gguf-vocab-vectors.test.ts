// llama.cpp's tokenizer test vectors (models/ggml-vocab-*.gguf.inp/.out): every case of every vocabulary whose GGUF is
// there, encoded with add_special=false, parse_special=false, must give exactly the expected ids. The files come
// from ../shared/data/tokenizer-tests, else from the llama.cpp source the native build checks out of node-llama-cpp
// (test/helpers/vocab-files.ts), which also has qwen2, qwen35, llama-bpe, command-r and gemma-4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { loadVocab, vocabDirs } from '../helpers/vocab-files.js';

const dirs = vocabDirs();
const skip = dirs.length > 0 ? false : 'needs ../shared/data/tokenizer-tests or the llama.cpp source of `npm run build:llama-cpp` (both absent)';

/** The folder holding the vocabulary's GGUF and both vector files, or undefined. */
function dirOf(name: string): string | undefined {
  return dirs.find((d) => ['', '.inp', '.out'].every((x) => existsSync(join(d, `ggml-vocab-${name}.gguf${x}`))));
}

function load(name: string): Tokenizer {
  const d = dirs.find((x) => existsSync(join(x, `ggml-vocab-${name}.gguf`)));
  assert.ok(d, `ggml-vocab-${name}.gguf`);
  return loadVocab(join(d, `ggml-vocab-${name}.gguf`));
}

/** The .inp strings: each one is followed by "\n__ggml_vocab_test__\n" (gemma-4's file lacks the last one). */
function cases(name: string): { text: string; ids: number[] }[] {
  const dir = dirOf(name)!;
  const inp = readFileSync(join(dir, `ggml-vocab-${name}.gguf.inp`), 'utf8').split('\n__ggml_vocab_test__\n');
  if (inp[inp.length - 1] === '') inp.pop();
  const out = readFileSync(join(dir, `ggml-vocab-${name}.gguf.out`), 'utf8').split('\n');
  if (out[out.length - 1] === '') out.pop();
  assert.equal(out.length, inp.length, `${name}: .inp and .out have the same number of cases`);
  return inp.map((text, i) => ({ text, ids: out[i]!.trim() === '' ? [] : out[i]!.trim().split(/\s+/).map(Number) }));
}

const VOCABS: [string, 'spm' | 'bpe'][] = [
  ['llama-spm', 'spm'],
  ['phi-3', 'spm'],
  ['gpt-2', 'bpe'],
  ['starcoder', 'bpe'],
  ['falcon', 'bpe'],
  ['mpt', 'bpe'],
  ['refact', 'bpe'],
  ['deepseek-llm', 'bpe'],
  ['deepseek-coder', 'bpe'],
  // in the llama.cpp source only (not in ../shared/data/tokenizer-tests): Qwen 2/2.5/3, Qwen3.5, Llama 3, Command-R
  ['qwen2', 'bpe'],
  ['qwen35', 'bpe'],
  ['llama-bpe', 'bpe'],
  ['command-r', 'bpe'],
  // Gemma 4: llama.cpp's `gemma4` tokenizer model, SentencePiece-style BPE merges over raw UTF-8 (262,144 tokens)
  ['gemma-4', 'bpe'],
];
/** Vector counts other than llama.cpp's usual 46. */
const COUNTS: Record<string, number> = { qwen35: 50 };

for (const [name, family] of VOCABS) {
  const missing = skip || (dirOf(name) ? false : `ggml-vocab-${name}.gguf with its .inp/.out is in none of ${dirs.join(', ')}`);
  test(`llama.cpp test vectors: ${name}`, { skip: missing }, () => {
    const tok = load(name);
    assert.equal(tok.family, family);
    const all = cases(name);
    assert.equal(all.length, COUNTS[name] ?? 46);
    const failed: string[] = [];
    for (const c of all) {
      const got = tok.encode(c.text, { addSpecial: false, parseSpecial: false });
      if (JSON.stringify(got) !== JSON.stringify(c.ids)) failed.push(`${JSON.stringify(c.text)}: got ${got} want ${c.ids}`);
      // and the ids decode back to the text (these vocabularies cover every test string losslessly)
      const back = tok.decode(got);
      if (back !== c.text) {
        failed.push(`${JSON.stringify(c.text)}: decodes to ${JSON.stringify(back)}`);
      }
    }
    assert.deepEqual(failed, [], `${name}: ${all.length - failed.length}/${all.length} pass`);
  });
}

test('every test-vector file with a GGUF is covered (or declared unsupported)', { skip }, () => {
  const unsupported = new Set(['bert-bge']); // WordPiece
  const seen = new Set<string>();
  for (const d of dirs) {
    for (const f of readdirSync(d)) {
      const m = /^ggml-vocab-(.+)\.gguf\.inp$/.exec(f);
      if (m && existsSync(join(d, `ggml-vocab-${m[1]}.gguf`))) seen.add(m[1]!);
    }
  }
  for (const f of seen) assert.ok(VOCABS.some(([n]) => n === f) || unsupported.has(f), `${f}: vectors and GGUF present but not tested`);
});

test('baichuan (SPM, no test vectors): round trip and hand-checked pieces', { skip }, () => {
  const tok = load('baichuan');
  assert.equal(tok.family, 'spm');
  assert.equal(tok.bos, 1);
  assert.equal(tok.eos, 2);
  const text = 'Hello world! 你好，世界。 Äpfel 🦙 3.14';
  const ids = tok.encode(text);
  assert.equal(ids[0], 1);
  assert.equal(tok.decode(ids), text);
  // the dummy prefix makes the first word "▁Hello"
  assert.equal(tok.tokenToPiece(ids[1]!), '▁Hello');
  // every byte of the llama emoji is a byte token if the emoji itself is not a token
  const llama = tok.encode('🦙', { addSpecial: false });
  const pieces = llama.map((i) => tok.tokenToPiece(i));
  assert.ok(pieces.join('') === '▁🦙' || pieces.slice(-4).every((p) => /^<0x[0-9A-F]{2}>$/.test(p)), pieces.join(' '));
});

test('gpt-neox (no pre-tokenizer key → llama.cpp default regexes): loads and round-trips', { skip }, () => {
  const tok = load('gpt-neox');
  assert.equal(tok.family, 'bpe');
  assert.equal(tok.pre, 'default');
  const text = "Hello, y'all!  How   are you 😁 ?\n\n\tcode = 12345;";
  assert.equal(tok.decode(tok.encode(text)), text);
  // the multi-space user-defined tokens are split out: three spaces are one token
  const three = tok.encode('a   b', { addSpecial: false });
  assert.ok(three.some((i) => tok.tokenToPiece(i) === '   ' || tok.tokenToPiece(i) === 'ĠĠĠ' || tok.tokenToPiece(i) === 'ĠĠ'), three.map((i) => tok.tokenToPiece(i)).join('|'));
});

test('bert-bge (WordPiece) is declared unsupported with a clear error', { skip }, () => {
  assert.throws(() => load('bert-bge'), /unsupported tokenizer 'tokenizer.ggml.model = bert, WordPiece.*supported: llama/);
});

test('special tokens and BOS/EOS from GGUF metadata', { skip }, () => {
  const spmTok = load('llama-spm');
  assert.deepEqual(spmTok.encode('Hello'), [1, 15043]);
  assert.deepEqual(spmTok.encode('Hello</s>', { addSpecial: false }), [15043, 2]);
  const phi3 = load('phi-3');
  assert.equal(phi3.eos, 32000);
  assert.equal(phi3.eot, 32007);
  assert.ok(phi3.stopIds.includes(32000) && phi3.stopIds.includes(32007));
  // phi-3's special tokens swallow the whitespace after them (llama.cpp's rstrip for phi-3)
  assert.deepEqual(phi3.encode('<|user|>\nHi', { addSpecial: false }), [32010, ...phi3.encode('Hi', { addSpecial: false })]);
  const gpt2 = load('gpt-2');
  assert.equal(gpt2.addBos, false);
  assert.deepEqual(gpt2.encode('Hello<|endoftext|>'), [15496, 50256]);
  const plain = gpt2.encode('Hello<|endoftext|>', { parseSpecial: false });
  assert.equal(plain[0], 15496);
  assert.ok(plain.length > 2 && !plain.includes(50256));
  assert.equal(gpt2.decode(plain), 'Hello<|endoftext|>');
  const ds = load('deepseek-coder');
  assert.equal(ds.addBos, true);
  assert.equal(ds.encode('hi')[0], 32013);
});

test('gemma-4: BOS always added, <turn|> and <eos> stop, spaces are ▁ and unknown characters their byte tokens', { skip: skip || (dirOf('gemma-4') ? false : 'ggml-vocab-gemma-4.gguf not found') }, () => {
  const tok = load('gemma-4');
  assert.equal(tok.vocabSize, 262144);
  assert.equal(tok.addBos, true);
  assert.equal(tok.bos, 2);
  assert.deepEqual(tok.encode('Hello')[0], 2);
  const turnEnd = tok.pieceToToken('<turn|>')!;
  assert.ok(tok.stopIds.includes(turnEnd) && tok.stopIds.includes(1), String(tok.stopIds));
  assert.ok(!tok.stopIds.includes(tok.pieceToToken('</s>')!), '</s> is a normal token in Gemma 4, not an end');
  const ids = tok.encode('a b', { addSpecial: false });
  assert.ok(ids.map((i) => tok.tokenToPiece(i)).join('').includes('▁'));
  assert.equal(tok.decode(ids), 'a b');
  // a chat turn: the markers are single control tokens
  const turn = tok.encode('<|turn>user\nHi<turn|>\n', { addSpecial: false });
  assert.equal(turn[0], tok.pieceToToken('<|turn>'));
  assert.ok(turn.includes(turnEnd));
});
