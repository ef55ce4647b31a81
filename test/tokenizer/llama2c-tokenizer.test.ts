// llama2.c tokenizer.bin: the published encode cases (llama2.c test.c) and tok512.bin, the stories260K vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Llama2cTokenizer, parseLlama2cTokenizer } from '../../src/tokenizer/llama2c-tokenizer.js';
import { sharedData } from '../helpers/shared-data.js';

const models = sharedData('models');
const skip = models ? false : 'needs ../shared/data/models (absent)';

interface Expected {
  llama2_tokenizer_bin_encode: { cases: { prompt: string; expected_tokens: number[] }[] };
  stories260K_greedy: { expected_stdout: string };
}
const expected = (): Expected => JSON.parse(readFileSync(`${models}/expected_outputs.json`, 'utf8')) as Expected;

test('Llama-2 tokenizer.bin: llama2.c encode cases (bos=1, eos=0)', { skip }, () => {
  const tok = Llama2cTokenizer.fromFile(`${models}/llama2c-tokenizer.bin`);
  assert.equal(tok.vocabSize, 32000);
  const cases = expected().llama2_tokenizer_bin_encode.cases;
  assert.equal(cases.length, 5);
  for (const c of cases) {
    assert.deepEqual(tok.encode(c.prompt), c.expected_tokens, JSON.stringify(c.prompt));
    assert.equal(tok.decode(c.expected_tokens), c.prompt);
  }
});

test('tok512.bin: vocabulary, byte fallback (+3), decoding the stories260K reference text', { skip }, () => {
  const tok = Llama2cTokenizer.fromFile(`${models}/tok512.bin`);
  assert.equal(tok.vocabSize, 512);
  assert.equal(tok.tokenToPiece(1), '\n<s>\n');
  assert.equal(tok.tokenToPiece(3 + 0x41), '<0x41>');
  assert.equal(tok.tokenToPiece(259), ' t'); // the first merge of the file
  const story = expected().stories260K_greedy.expected_stdout;
  const ids = tok.encode(story);
  assert.equal(ids[0], 1);
  // run.c prints pieces after BOS without the leading space: decode(ids) is the text again
  assert.equal(tok.decode(ids), story);
  // streaming gives the same text token by token
  const d = tok.createDecoder();
  let streamed = '';
  for (const id of ids) streamed += d.push(id);
  assert.equal(streamed + d.flush(), story);
  // a character outside the 512 pieces falls back to its UTF-8 bytes + 3
  const snow = tok.encode('☃', { addSpecial: false });
  assert.deepEqual(snow.slice(-3), [0xe2 + 3, 0x98 + 3, 0x83 + 3]);
  assert.equal(tok.decode(snow), '☃');
});

test('tokenizer.bin parse errors are one-line KvErrors', () => {
  assert.throws(() => parseLlama2cTokenizer(new Uint8Array(2), 'x.bin'), /x\.bin: not a valid llama2\.c tokenizer\.bin/);
  const buf = new Uint8Array(4 + 8 + 2);
  const dv = new DataView(buf.buffer);
  dv.setInt32(0, 8, true);
  dv.setFloat32(4, 0, true);
  dv.setInt32(8, 5, true); // claims 5 bytes, 2 present
  assert.throws(() => parseLlama2cTokenizer(buf, 'y.bin'), /y\.bin: .*token 0 has length 5/);
});
