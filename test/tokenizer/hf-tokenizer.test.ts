// SmolLM2's Hugging Face tokenizer.json: hand-checked splits, a lossless round trip over ~200 KB of a Gutenberg
// book, and encoding speed on 100 KB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadTokenizer } from '../../src/tokenizer/load-tokenizer.js';
import { tokenizerFromHFJson } from '../../src/tokenizer/hf-tokenizer.js';
import { byteChar } from '../../src/tokenizer/byte-unicode.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { sharedData } from '../helpers/shared-data.js';

const path = sharedData('models/smollm2-135m/tokenizer.json');
const book = sharedData('corpora/gutenberg/Austen_Jane/pg121_Northanger_Abbey.txt');
const skip = path && book ? false : 'needs ../shared/data (models/smollm2-135m, corpora/gutenberg) (absent)';

let cached: Tokenizer | undefined;
const smol = (): Tokenizer => (cached ??= loadTokenizer(path!));
const pieces = (t: Tokenizer, text: string): string[] => t.encode(text, { addSpecial: false }).map((i) => t.tokenToPiece(i));

function gutenbergBody(file: string): string {
  const raw = readFileSync(file, 'utf8');
  const start = raw.indexOf('\n', raw.indexOf('*** START OF')) + 1;
  const end = raw.indexOf('*** END OF');
  return raw.slice(start, end > 0 ? end : undefined);
}

test('SmolLM2 tokenizer.json: hand-checked splits and special tokens', { skip }, () => {
  const t = smol();
  assert.equal(t.family, 'bpe');
  assert.equal(t.vocabSize, 49152);
  // config.json beside it names BOS 1 / EOS 2; the file's post-processor adds nothing
  assert.equal(t.bos, 1);
  assert.equal(t.eos, 2);
  assert.equal(t.addBos, false);
  assert.deepEqual(pieces(t, 'Hello world'), ['Hello', 'Ġworld']);
  // Digits(individual_digits) splits every digit; the space before them stays alone
  assert.deepEqual(pieces(t, 'I have 12345 apples'), ['I', 'Ġhave', 'Ġ', '1', '2', '3', '4', '5', 'Ġapples']);
  // `\s+(?!\S)` leaves the last space to the next word; contractions split off
  assert.deepEqual(pieces(t, "It's   done"), ['It', "'s", 'ĠĠ', 'Ġdone']);
  assert.deepEqual(t.encode('<|im_start|>user\nHi<|im_end|>'), [1, ...t.encode('user\nHi'), 2]);
  assert.deepEqual(pieces(t, 'user\nHi'), ['user', 'Ċ', 'Hi']);
  // with parseSpecial=false the marker is text
  const plain = t.encode('<|im_end|>', { parseSpecial: false });
  assert.ok(!plain.includes(2) && plain.length > 1);
  assert.equal(t.decode(plain), '<|im_end|>');
  assert.equal(t.decode([1, 19556, 2], { skipSpecial: false }), '<|im_start|>Hello<|im_end|>');
  assert.equal(t.decode([1, 19556, 2]), 'Hello');
});

test('SmolLM2 tokenizer.json: decode(encode(text)) == text on ~200 KB of Northanger Abbey, 100 KB in well under a second', { skip }, () => {
  const t = smol();
  const body = gutenbergBody(book!);
  const text = body.slice(0, 200_000);
  assert.ok(text.length >= 190_000);
  const ids = t.encode(text, { addSpecial: false });
  assert.ok(ids.length > 35_000 && ids.length < 70_000, `${ids.length} tokens`);
  assert.equal(t.decode(ids), text);
  // streaming decode agrees
  const d = t.createDecoder();
  let s = '';
  for (const id of ids.slice(0, 5000)) s += d.push(id);
  assert.equal(s + d.flush(), t.decode(ids.slice(0, 5000)));

  // speed: a fresh tokenizer (cold word cache) on a different 100 KB
  const fresh = tokenizerFromHFJson(JSON.parse(readFileSync(path!, 'utf8')), path!);
  const other = body.slice(200_000, 300_000);
  const t0 = performance.now();
  fresh.encode(other, { addSpecial: false });
  const ms = performance.now() - t0;
  // "well under a second" on an idle machine (~0.1 s); allow for a loaded 2-core CI box
  assert.ok(ms < 2000, `100 KB took ${ms.toFixed(0)} ms`);
});

test('tokenizer.json errors name the file and the problem', () => {
  assert.throws(() => tokenizerFromHFJson({}, 'a.json'), /a\.json: not a Hugging Face tokenizer\.json/);
  assert.throws(
    () => tokenizerFromHFJson({ model: { type: 'WordPiece', vocab: {} } }, 'b.json'),
    /b\.json: unsupported tokenizer model WordPiece; supported: BPE/,
  );
  assert.throws(
    () => tokenizerFromHFJson({ model: { type: 'BPE', vocab: { a: 0 }, merges: [] }, pre_tokenizer: { type: 'Metaspace' } }, 'c.json'),
    /c\.json: pre-tokenizer Metaspace is not supported/,
  );
  // a minimal valid byte-level file: the 256 byte symbols, "ab" and the merge "a b"
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = b;
  vocab.ab = 256;
  const t = tokenizerFromHFJson(
    {
      model: { type: 'BPE', vocab, merges: [['a', 'b']] },
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
      added_tokens: [{ id: 257, content: '<eos>', special: true }],
      decoder: { type: 'ByteLevel' },
    },
    'd.json',
  );
  // "ab" → [ab]; " ab" → Ġ a b → [Ġ, ab] ("Ġab" is not a token); <eos> split out
  assert.deepEqual(t.encode('ab ab<eos>'), [256, vocab['Ġ'], 256, 257]);
  assert.deepEqual(t.encode('ab'), [256]);
  assert.equal(t.decode(t.encode('ab ab<eos>')), 'ab ab');
});

