/**
 * SentencePiece-style vocabularies of Hugging Face folders on a toy vocabulary: the dummy prefix of each normalizer /
 * pre-tokenizer form (Llama 2's Prepend + Replace, Metaspace always / first, Gemma's Replace only), what GGUF cannot
 * say (Metaspace `first` is kept for the folder, the GGUF gets llama.cpp's rule), added tokens, the files read
 * directly, and the refusals (one line naming the file and the problem).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hfVocabulary } from '../../src/formats/hf-vocab.js';
import { tokenizerFromGGUFMetadata } from '../../src/tokenizer/gguf-tokenizer.js';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { parseSentencePieceModel } from '../../src/tokenizer/sentencepiece-model.js';
import { TokenType } from '../../src/tokenizer/tokenizer.js';
import { sentencePieceModelBytes, spmTokenizerJson, type SpmJsonOptions, type SpmSource } from '../helpers/spm-files.js';

/** <unk> <s> </s>, the 256 byte tokens, then pieces whose score falls with their id (as SentencePiece BPE orders them). */
function toyVocab(): SpmSource {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
  }
  const pieces = ['He', 'll', 'llo', 'Hello', '▁Hello', '▁w', 'or', '▁wor', 'ld', '▁world', '▁', 'H', 'e', 'l', 'o', 'w', 'r', 'd'];
  const scores = tokens.map(() => 0);
  pieces.forEach((p, i) => {
    tokens.push(p);
    types.push(TokenType.Normal);
    scores.push(-i);
  });
  return { tokens, scores, types };
}

function withFolder(files: Record<string, string | Uint8Array>, f: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-spm-vocab-'));
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], vocab_size: toyVocab().tokens.length + 2, bos_token_id: 1, eos_token_id: 2 }));
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const v = toyVocab();
const base = v.tokens.length;
const id = (piece: string) => v.tokens.indexOf(piece);
const json = (o: SpmJsonOptions = {}) => JSON.stringify(spmTokenizerJson(v, base, o));

test('Llama 2 legacy (Prepend + Replace) and Metaspace always: ▁ before the text and after special tokens; padded to vocab_size', () => {
  for (const spaces of ['legacy', 'metaspace-always'] as const) {
    withFolder({ 'tokenizer.json': json({ spaces }) }, (dir) => {
      const tok = loadTokenizer(dir);
      assert.equal(tok.vocabSize, base + 2);
      assert.deepEqual(tok.encode('Hello world', { addSpecial: false }), [id('▁Hello'), id('▁world')], spaces);
      assert.deepEqual(tok.encode('Hello</s>Hello'), [1, id('▁Hello'), 2, id('▁Hello')], spaces);
      assert.equal(tok.decode(tok.encode('Hello world')), 'Hello world');
      const md = hfVocabulary(dir, base + 2, {}).metadata;
      assert.equal(md.get('tokenizer.ggml.add_space_prefix')!.value, true);
      assert.deepEqual((md.get('tokenizer.ggml.tokens')!.value as string[]).slice(-2), [`[PAD${base}]`, `[PAD${base + 1}]`]);
      assert.deepEqual([...(md.get('tokenizer.ggml.token_type')!.value as Int32Array)].slice(0, 4), [TokenType.Unknown, TokenType.Control, TokenType.Control, TokenType.Byte]);
    });
  }
});

test("Metaspace prepend_scheme 'first': the folder adds ▁ only at the start, as Hugging Face; its GGUF gets llama.cpp's rule", () => {
  withFolder({ 'tokenizer.json': json({ spaces: 'metaspace-first' }) }, (dir) => {
    const tok = loadTokenizer(dir);
    assert.deepEqual(tok.encode('Hello', { addSpecial: false }), [id('▁Hello')]);
    assert.deepEqual(tok.encode('</s>Hello', { addSpecial: false }), [2, id('Hello')]);
    const md = new Map([...hfVocabulary(dir, undefined, {}).metadata].map(([k, x]) => [k, x.value as unknown]));
    assert.deepEqual(tokenizerFromGGUFMetadata(md).encode('</s>Hello', { addSpecial: false }), [2, id('▁Hello')]);
  });
});

test("Gemma's Replace-only normalizer (with or without its Split on \" \"): no dummy prefix (add_space_prefix false)", () => {
  const split = JSON.stringify({ ...spmTokenizerJson(v, base, { spaces: 'replace-only' }), pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false } });
  for (const file of [json({ spaces: 'replace-only' }), split]) {
    withFolder({ 'tokenizer.json': file }, (dir) => {
      const tok = loadTokenizer(dir);
      assert.deepEqual(tok.encode('Hello world', { addSpecial: false }), [id('Hello'), id('▁world')]);
      assert.equal(hfVocabulary(dir, undefined, {}).metadata.get('tokenizer.ggml.add_space_prefix')!.value, false);
    });
  }
});

test("a tokenizer.json's added token with rstrip swallows the whitespace after it, as Hugging Face does", () => {
  const j = spmTokenizerJson(v, base);
  (j.added_tokens as Record<string, unknown>[]).push({ id: base, content: '<|end|>', single_word: false, lstrip: false, rstrip: true, normalized: false, special: true });
  withFolder({ 'tokenizer.json': JSON.stringify(j) }, (dir) => {
    assert.deepEqual(loadTokenizer(dir).encode('<|end|>  Hello', { addSpecial: false }), [base, id('▁Hello')]);
    const md = new Map([...hfVocabulary(dir, undefined, {}).metadata].map(([k, x]) => [k, x.value as unknown]));
    assert.deepEqual(tokenizerFromGGUFMetadata(md).encode('<|end|>  Hello', { addSpecial: false }), [base, id('▁'), id('▁'), id('▁Hello')], 'GGUF has no rstrip key');
  });
});

test('tokenizer.model: preferred to the tokenizer.json, read directly too; added_tokens.json and added_tokens_decoder as the converter reads them', () => {
  const model = sentencePieceModelBytes(v, base);
  const parsed = parseSentencePieceModel(model, 'tokenizer.model');
  assert.equal(parsed.pieces.length, base);
  assert.deepEqual([parsed.modelType, parsed.byteFallback, parsed.unkId, parsed.bosId, parsed.eosId, parsed.padId], [2, true, 0, 1, 2, -1]);
  const tc = JSON.stringify({ added_tokens_decoder: { [String(base + 1)]: { content: '▁x▁y', special: false }, '2': { content: '</s>', special: true } } });
  withFolder({ 'tokenizer.model': model, 'tokenizer.json': json({ spaces: 'replace-only' }), 'added_tokens.json': JSON.stringify({ '<extra_0>': base }), 'tokenizer_config.json': tc }, (dir) => {
    const md = hfVocabulary(dir, base + 2, {}).metadata;
    const tokens = md.get('tokenizer.ggml.tokens')!.value as string[];
    const types = md.get('tokenizer.ggml.token_type')!.value as Int32Array;
    assert.deepEqual(tokens.slice(-2), ['<extra_0>', ' x y'], "a user-defined token of tokenizer_config.json matches raw spaces");
    assert.deepEqual([...types.slice(-2)], [TokenType.UserDefined, TokenType.UserDefined]);
    assert.deepEqual([...(md.get('tokenizer.ggml.scores')!.value as Float32Array)].slice(base - 3, base), [-15, -16, -17]);
    const tok = loadTokenizer(dir);
    assert.deepEqual(tok.encode('Hello x y<extra_0>', { addSpecial: false }), [id('▁Hello'), base + 1, base], 'the model prefixes (add_dummy_prefix), unlike its tokenizer.json');
    assert.deepEqual(loadTokenizer(join(dir, 'tokenizer.model')).encode('Hello world'), tok.encode('Hello world'));
    assert.deepEqual(loadTokenizer(join(dir, 'tokenizer.json')).encode('Hello world', { addSpecial: false }), [id('Hello'), id('▁world')]);
  });
});

test('refusals name the file and the problem', () => {
  const cases: [Record<string, string | Uint8Array>, RegExp][] = [
    [{ 'tokenizer.model': sentencePieceModelBytes(v, base, { modelType: 1 }) }, /tokenizer\.model: a SentencePiece Unigram model; kvmerger reads SentencePiece BPE models/],
    [{ 'tokenizer.model': sentencePieceModelBytes(v, base, { normalizer: 'nmt_nfkc' }) }, /tokenizer\.model: its normalizer 'nmt_nfkc' rewrites text/],
    [{ 'tokenizer.model': sentencePieceModelBytes(v, base).subarray(0, 1000) }, /tokenizer\.model: not a SentencePiece model \(a field of \d+ bytes running past its end at byte \d+\)/],
    [{ 'tokenizer.json': json().replace('"split":false', '"split":true').replace('"pre_tokenizer":null', '"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}') }, /tokenizer\.json: Metaspace with split: true cuts the text into words/],
    [{ 'tokenizer.json': json().replace('"normalizer":{', '"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"}]},"x":{') }, /tokenizer\.json: normalizer NFKC is not supported in a SentencePiece-style tokenizer/],
    [{ 'tokenizer.json': json().replace('"normalizer":{"type":"Sequence"', '"normalizer":null,"y":{"type":"Sequence"') }, /tokenizer\.json: its normalizer does not write spaces as ▁/],
  ];
  for (const [files, message] of cases) {
    withFolder(files, (dir) => assert.throws(() => loadTokenizer(dir), (e: Error) => message.test(e.message) && !e.message.includes('\n'), String(message)));
  }
});
