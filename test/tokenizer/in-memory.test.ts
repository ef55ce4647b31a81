// Tokenizers on tiny hand-built vocabularies, with expectations worked out by hand from the algorithms' definitions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpmTokenizer } from '../../src/tokenizer/spm-tokenizer.js';
import { BpeTokenizer } from '../../src/tokenizer/bpe-tokenizer.js';
import { byteChar, byteDecode, byteEncode } from '../../src/tokenizer/byte-unicode.js';
import { makePreTokenizer, preTokenizerStepsFor, toJsRegex } from '../../src/tokenizer/pre-tokenizer.js';
import { TokenType } from '../../src/tokenizer/tokenizer.js';
import { PriorityQueue } from '../../src/tokenizer/priority-queue.js';

const hex = (b: number): string => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;

/** unk, <s>, </s>, 256 byte tokens (ids 3..258), then `extra` with their scores and types. */
function spm(extra: [string, number, number?][], opts: { addSpacePrefix?: boolean; addEos?: boolean } = {}): SpmTokenizer {
  const tokens = ['<unk>', '<s>', '</s>'];
  const scores = [0, 0, 0];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let b = 0; b < 256; b++) {
    tokens.push(hex(b));
    scores.push(0);
    types.push(TokenType.Byte);
  }
  for (const [t, s, ty] of extra) {
    tokens.push(t);
    scores.push(s);
    types.push(ty ?? TokenType.Normal);
  }
  return new SpmTokenizer({
    tokens,
    scores,
    types,
    bos: 1,
    eos: 2,
    unk: 0,
    addBos: true,
    addEos: opts.addEos ?? false,
    addSpacePrefix: opts.addSpacePrefix ?? true,
  });
}

const ids = (t: { pieceToToken(s: string): number | undefined }, ...pieces: string[]): number[] =>
  pieces.map((p) => {
    const id = t.pieceToToken(p);
    assert.notEqual(id, undefined, `no token ${p}`);
    return id!;
  });

test('SPM: the highest-scoring merge goes first, and that changes the result', () => {
  // "abc" → "▁abc": bigrams ▁a(-1), ab(?), bc(-3). "▁ab" and "abc" are not tokens.
  const a = spm([['▁', -10], ['a', -10], ['b', -10], ['c', -10], ['▁a', -1], ['ab', -2], ['bc', -3]]);
  // ▁a first, then (▁a,b) has no token, then bc: [▁a, bc]
  assert.deepEqual(a.encode('abc', { addSpecial: false }), ids(a, '▁a', 'bc'));
  const b = spm([['▁', -10], ['a', -10], ['b', -10], ['c', -10], ['▁a', -1], ['ab', 0], ['bc', -3]]);
  // ab first (score 0), then neither ▁ab nor abc is a token: [▁, ab, c]
  assert.deepEqual(b.encode('abc', { addSpecial: false }), ids(b, '▁', 'ab', 'c'));
});

test('SPM: equal scores merge leftmost first; no space prefix when disabled', () => {
  const t = spm([['a', -5], ['aa', -1]], { addSpacePrefix: false });
  assert.deepEqual(t.encode('aaa', { addSpecial: false }), ids(t, 'aa', 'a'));
});

test('SPM: byte fallback, BOS/EOS, empty text', () => {
  const t = spm([['▁', -1], ['h', -1], ['i', -1], ['▁h', -0.5], ['▁hi', -0.2]], { addEos: true });
  assert.deepEqual(t.encode('hi'), [1, ...ids(t, '▁hi'), 2]);
  // é = C3 A9 has no token: its bytes are tokens 3 + 0xC3, 3 + 0xA9
  assert.deepEqual(t.encode('hé', { addSpecial: false }), [...ids(t, '▁h'), 3 + 0xc3, 3 + 0xa9]);
  assert.deepEqual(t.encode(''), [1, 2]);
  assert.deepEqual(t.encode('', { addSpecial: false }), []);
  // spaces become ▁; the prefix makes the first one double
  assert.deepEqual(t.encode(' hi', { addSpecial: false }), ids(t, '▁', '▁hi'));
});

test('SPM: special tokens split out longest first; user-defined even without parseSpecial; space prefix after them', () => {
  const t = spm([
    ['▁', -1], ['a', -1], ['b', -1], ['c', -1], ['d', -1],
    ['<x>', 0, TokenType.Control],
    ['ab', 0, TokenType.UserDefined],
    ['bcd', 0, TokenType.UserDefined],
  ], { addSpacePrefix: false });
  // llama.cpp scans the longest special token first: "bcd" wins over the leftmost "ab".
  assert.deepEqual(t.encode('abcd', { addSpecial: false }), ids(t, 'a', 'bcd'));
  assert.deepEqual(t.encode('a<x>b', { addSpecial: false }), ids(t, 'a', '<x>', 'b'));
  // parseSpecial=false: control text is plain text ('<' etc. fall back to bytes), user-defined still split
  const plain = t.encode('<x>ab', { addSpecial: false, parseSpecial: false });
  assert.deepEqual(plain, [3 + 0x3c, 3 + 0x78, 3 + 0x3e, ...ids(t, 'ab')]);
  const withPrefix = spm([['▁', -1], ['a', -1], ['▁a', 0], ['<x>', 0, TokenType.Control]]);
  assert.deepEqual(withPrefix.encode('a<x>a', { addSpecial: false }), ids(withPrefix, '▁a', '<x>', '▁a'));
});

test('SPM decode: leading dummy space dropped, controls skipped unless asked, bytes joined', () => {
  const t = spm([['▁', -1], ['h', -1], ['i', -1], ['▁h', -0.5], ['▁hi', -0.2], ['▁there', -0.1]]);
  const e = t.encode('hi there');
  assert.equal(e[0], 1);
  assert.equal(t.decode(e), 'hi there');
  assert.equal(t.decode(e, { skipSpecial: false }), '<s> hi there');
  assert.equal(t.decode(e.slice(1), { stripLeadingSpace: false }), ' hi there');
  assert.equal(t.decode([3 + 0xe4, 3 + 0xbd, 3 + 0xa0]), '你');
  assert.equal(t.tokenToPiece(e[1]!), '▁hi');
  assert.deepEqual([...t.tokenBytes(e[1]!)], [0x20, 0x68, 0x69]);
  assert.throws(() => t.decode([t.vocabSize]), /out of range/);
});

test('streaming decoder never emits half a UTF-8 character', () => {
  const t = spm([['a', -1]], { addSpacePrefix: false });
  const d = t.createDecoder();
  // 你 = E4 BD A0, then 'a', then a dangling E4
  assert.equal(d.push(3 + 0xe4), '');
  assert.equal(d.push(3 + 0xbd), '');
  assert.equal(d.push(3 + 0xa0), '你');
  assert.equal(d.push(t.pieceToToken('a')!), 'a');
  assert.equal(d.push(3 + 0xe4), '');
  assert.equal(d.flush(), '\uFFFD');
  assert.equal(d.push(t.pieceToToken('a')!), 'a');
});

test('GPT-2 byte ↔ unicode mapping', () => {
  assert.equal(byteEncode(' hi\n'), 'ĠhiĊ');
  assert.equal(byteEncode('é'), 'Ã©');
  assert.equal(byteEncode('\u0000\u00ad'), '\u0100' + '\u00c2\u0143');
  assert.deepEqual([...byteDecode('ĠhiĊ')], [0x20, 0x68, 0x69, 0x0a]);
  const chars = new Set<string>();
  for (let b = 0; b < 256; b++) {
    chars.add(byteChar(b));
    assert.deepEqual([...byteDecode(byteChar(b))], [b]);
  }
  assert.equal(chars.size, 256);
});

/** All 256 byte characters as tokens, then `extra`, with `merges`. */
function bpe(extra: string[], merges: string[], pre = 'gpt-2'): BpeTokenizer {
  const tokens: string[] = [];
  for (let b = 0; b < 256; b++) tokens.push(byteChar(b));
  tokens.push(...extra);
  return new BpeTokenizer({ tokens, merges, pre, preTokenizer: preTokenizerStepsFor(pre), addBos: false, addEos: false });
}

test('BPE: merges apply by rank, not left to right', () => {
  // " the" → Ġ t h e. Ranks: "h e"=0, "Ġ t"=1, "t h"=2. he first → Ġ t he; then Ġt → Ġt he; "Ġt he" has no rank.
  const t = bpe(['he', 'Ġt', 'th'], ['h e', 'Ġ t', 't h']);
  assert.deepEqual(t.encode(' the'), ids(t, 'Ġt', 'he'));
  // With "t h" ranked first: Ġ th e, then no "Ġ th" or "th e": three tokens.
  const u = bpe(['he', 'Ġt', 'th'], ['t h', 'h e', 'Ġ t']);
  assert.deepEqual(u.encode(' the'), ids(u, 'Ġ', 'th', 'e'));
  // equal ranks cannot happen between different pairs; repeated pairs merge leftmost first: "aaa" → aa a
  const v = bpe(['aa'], ['a a']);
  assert.deepEqual(v.encode('aaa'), ids(v, 'aa', 'a'));
  assert.equal(v.decode(v.encode('aaa é')), 'aaa é');
});

test('BPE: the string merge path (merges whose result is not a token) agrees with the id path', () => {
  const extra = ['he', 'Ġt', 'th', 'Ġthe', 'll', 'ell', 'Ġw'];
  const merges = ['h e', 'Ġ t', 't h', 'Ġt he', 'l l', 'e ll', 'Ġ w'];
  const byId = bpe(extra, merges);
  // one more merge whose result "qz" is not a token forces llama.cpp's string path for every word
  const byText = bpe(extra, [...merges, 'q z']);
  for (const s of [' the', 'hello the well', ' tthe  hhe', 'Ġ', '']) {
    assert.deepEqual(byText.encode(s), byId.encode(s), s);
  }
  // "h e" (rank 0) takes the e before "e ll" (rank 5) can: he ll o
  assert.deepEqual(byId.encode('hello the'), ids(byId, 'he', 'll', 'o', 'Ġthe'));
  // "q z" merges, "qz" is no token: llama.cpp then emits the ASCII characters it can find as tokens
  assert.deepEqual(byText.encode('qz'), ids(byText, 'q', 'z'));
});

test('pre-tokenizers split as llama.cpp does', () => {
  const gpt2 = makePreTokenizer(preTokenizerStepsFor('gpt-2'));
  assert.deepEqual(gpt2("Hello world's  123!!\t"), ['Hello', ' world', "'s", ' ', ' 123', '!!', '\t']);
  const starcoder = makePreTokenizer(preTokenizerStepsFor('starcoder'));
  assert.deepEqual(starcoder('a 123'), ['a', ' ', '1', '2', '3']);
  const llama3 = makePreTokenizer(preTokenizerStepsFor('llama3'));
  assert.deepEqual(llama3("I'LL pay 12345 now\n\n ok"), ['I', "'LL", ' pay', ' ', '123', '45', ' now', '\n\n', ' ok']);
  const falcon = makePreTokenizer(preTokenizerStepsFor('falcon'));
  assert.deepEqual(falcon('x=1234;'), ['x', '=', '123', '4', ';']);
  assert.throws(() => preTokenizerStepsFor('no-such-pre'), /unsupported pre-tokenizer.*gpt-2/);
  // (?i:...) expands case-insensitively; \s means Unicode White_Space (U+0085 yes, U+FEFF no)
  assert.ok(toJsRegex("(?i:'s)").test("'S"));
  assert.ok(toJsRegex('^\\s$').test('\u0085'));
  assert.ok(!toJsRegex('^\\s$').test('\uFEFF'));
});

test('priority queue pops in order', () => {
  const q = new PriorityQueue<number>((a, b) => a < b);
  for (const x of [5, 3, 9, 1, 1, 7]) q.push(x);
  const out: number[] = [];
  while (q.size > 0) out.push(q.pop()!);
  assert.deepEqual(out, [1, 1, 3, 5, 7, 9]);
});
