// Rendered chats as token ids with real vocabularies (llama.cpp's ggml-vocab-*.gguf): BOS exactly once (the template's
// own BOS is dropped when the vocabulary adds one, as llama.cpp's chat path does), the template's markers as single
// special tokens, and the end-of-turn marker among the ids that stop generation. Gemma 2/3: no Gemma SPM vocabulary
// file is at hand (llama.cpp ships only gemma-4's, another tokenizer model), so a vocabulary with Gemma's special
// tokens at Gemma's ids stands in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyChatTemplate, type ChatMessage } from '../../../src/generate/chat-template.js';
import { chatTokenTexts, encodeChatPrompt, tokenizePrompt } from '../../../src/generate/session.js';
import { tokenizerFromGGUFMetadata } from '../../../src/tokenizer/gguf-tokenizer.js';
import type { Tokenizer } from '../../../src/tokenizer/tokenizer.js';
import { loadVocab, vocabFile } from '../../helpers/vocab-files.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'chat-templates');
const template = (f: string) => readFileSync(join(fixtures, f), 'utf8');
const chat: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello!' },
  { role: 'assistant', content: 'Hi there.' },
  { role: 'user', content: 'What is 2+2?' },
];
const noSystem = chat.slice(1);

function render(tok: Tokenizer, file: string, messages: ChatMessage[], context?: Record<string, unknown>): { text: string; ids: number[] } {
  const text = applyChatTemplate(template(file), messages, { ...chatTokenTexts(tok), ...(context ? { context } : {}) });
  return { text, ids: encodeChatPrompt(tok, text) };
}
const count = (ids: number[], id: number) => ids.filter((x) => x === id).length;
const id = (tok: Tokenizer, piece: string) => {
  const i = tok.pieceToToken(piece);
  assert.ok(i !== undefined, piece);
  return i;
};
/** The ids decode (special tokens shown) back to the rendered text, less the BOS the tokenizer added. */
function roundTrips(tok: Tokenizer, ids: number[], text: string) {
  const shown = tok.decode(ids, { skipSpecial: false, stripLeadingSpace: true });
  const bos = chatTokenTexts(tok).bosToken;
  assert.equal(shown.startsWith(bos) && !text.startsWith(bos) ? shown.slice(bos.length) : shown, text);
}

const llamaBpe = vocabFile('llama-bpe');
test('Llama 3.1 / 3.2 template with the Llama 3 vocabulary: one <|begin_of_text|>, stops at <|eot_id|>', { skip: llamaBpe ? false : 'ggml-vocab-llama-bpe.gguf not found' }, () => {
  const tok = loadVocab(llamaBpe!);
  assert.equal(tok.bos, 128000);
  assert.equal(tok.addBos, true);
  for (const f of ['llama-3.1-8b-instruct.jinja', 'llama-3.2-3b-instruct.jinja']) {
    const { text, ids } = render(tok, f, chat);
    assert.ok(text.startsWith('<|begin_of_text|>'), 'the template prints BOS');
    assert.equal(ids[0], 128000);
    assert.equal(count(ids, 128000), 1, 'BOS not doubled');
    assert.equal(ids[1], id(tok, '<|start_header_id|>'));
    assert.equal(count(ids, id(tok, '<|eot_id|>')), 4);
    assert.deepEqual(ids.slice(-4), [id(tok, '<|start_header_id|>'), tok.encode('assistant', { addSpecial: false })[0], id(tok, '<|end_header_id|>'), tok.encode('\n\n', { addSpecial: false })[0]]);
    roundTrips(tok, ids, text);
  }
  assert.equal(tok.eot, 128009);
  assert.ok(tok.stopIds.includes(128009) && tok.stopIds.includes(128001), String(tok.stopIds));
  // tokenizePrompt (generate's and the server's path) gives the same ids
  const model = { config: { vocabSize: tok.vocabSize } as never, tokenizer: tok, backend: undefined as never, chatTemplate: template('llama-3.1-8b-instruct.jinja') };
  assert.deepEqual(tokenizePrompt(model, { messages: chat }), render(tok, 'llama-3.1-8b-instruct.jinja', chat).ids);
  assert.deepEqual(tokenizePrompt(model, { chat }), tokenizePrompt(model, { messages: chat }));
});

const qwen2 = vocabFile('qwen2');
test('Qwen 2.5 / Qwen3 templates with the Qwen vocabulary: no BOS, ChatML markers, stops at <|im_end|>', { skip: qwen2 ? false : 'ggml-vocab-qwen2.gguf not found' }, () => {
  const tok = loadVocab(qwen2!);
  assert.equal(tok.addBos, false);
  const start = id(tok, '<|im_start|>');
  const end = id(tok, '<|im_end|>');
  assert.equal(start, 151644);
  assert.equal(end, 151645);
  for (const f of ['qwen2.5-7b-instruct.jinja', 'qwen3-0.6b.jinja']) {
    const { text, ids } = render(tok, f, chat);
    assert.equal(ids[0], start);
    assert.equal(count(ids, start), 5);
    assert.equal(count(ids, end), 4);
    assert.ok(!ids.includes(tok.bos!), 'no BOS: the vocabulary does not add one and ChatML prints none');
    roundTrips(tok, ids, text);
  }
  // Qwen3 with thinking off: the reply opens after an empty think block (one token each in Qwen3's vocabulary;
  // llama.cpp's qwen2 test vocabulary is Qwen2's, which spells them out)
  const { text, ids } = render(tok, 'qwen3-0.6b.jinja', noSystem, { enable_thinking: false });
  assert.ok(text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'));
  const think = tok.pieceToToken('<think>');
  if (think !== undefined) assert.deepEqual(ids.slice(-4), [think, ...tok.encode('\n\n', { addSpecial: false }), id(tok, '</think>'), ...tok.encode('\n\n', { addSpecial: false })]);
  else assert.equal(tok.decode(ids.slice(ids.lastIndexOf(start))), 'assistant\n<think>\n\n</think>\n\n');
  assert.equal(tok.eot, end);
  assert.ok(tok.stopIds.includes(end) && tok.stopIds.includes(151643), String(tok.stopIds));
});

const phi3 = vocabFile('phi-3');
test('Phi-3 / Phi-3.5 templates with the Phi-3 vocabulary: one <s>, role markers, stops at <|end|>', { skip: phi3 ? false : 'ggml-vocab-phi-3.gguf not found' }, () => {
  const tok = loadVocab(phi3!);
  assert.equal(tok.addBos, true);
  for (const f of ['phi-3-mini-4k-instruct-2024-04.jinja', 'phi-3.5-mini-instruct.jinja']) {
    const { ids } = render(tok, f, chat);
    assert.equal(ids[0], 1);
    assert.equal(count(ids, 1), 1, `${f}: BOS once (the old template prints <s> itself)`);
    assert.equal(count(ids, id(tok, '<|user|>')), 2);
    assert.equal(count(ids, id(tok, '<|end|>')), f.startsWith('phi-3.5') ? 4 : 3);
    assert.equal(ids.at(-1), id(tok, '<|assistant|>'), 'the assistant marker swallows its newline (rstrip)');
  }
  assert.equal(tok.eot, 32007);
  assert.ok(tok.stopIds.includes(32007) && tok.stopIds.includes(32000));
});

const llamaSpm = vocabFile('llama-spm');
// (no round trip here: after each special token llama.cpp's SPM path puts the dummy-prefix space before the text,
// "<s>[INST]" is <s> "▁[INST]", as Hugging Face's legacy Llama tokenizer does)
test('Mistral templates with the Llama/Mistral SPM vocabulary: one <s>, </s> closes assistant turns and stops', { skip: llamaSpm ? false : 'ggml-vocab-llama-spm.gguf not found' }, () => {
  const tok = loadVocab(llamaSpm!);
  for (const [f, msgs] of [['mistral-7b-instruct-v0.2-legacy.jinja', noSystem], ['mistral-7b-instruct-v0.2-v1.jinja', chat], ['mistral-nemo-instruct-2407.jinja', chat]] as const) {
    const { text, ids } = render(tok, f, [...msgs]);
    assert.equal(ids[0], 1);
    assert.equal(count(ids, 1), 1, `${f}: BOS once`);
    assert.equal(count(ids, 2), 1, `${f}: the assistant turn ends with </s>`);
    assert.deepEqual(ids.slice(1), tok.encode(text.slice('<s>'.length), { addSpecial: false }), 'the rest is the text after <s>');
  }
  assert.ok(tok.stopIds.includes(2));
});

/** An SPM vocabulary with Gemma's special tokens at Gemma's ids (<pad> 0, <eos> 1, <bos> 2, <unk> 3, turns 106/107). */
function gemmaLikeVocab(): Tokenizer {
  const tokens: string[] = ['<pad>', '<eos>', '<bos>', '<unk>'];
  const types: number[] = [3, 3, 3, 2];
  while (tokens.length < 106) {
    tokens.push(`<unused${tokens.length}>`);
    types.push(5);
  }
  tokens.push('<start_of_turn>', '<end_of_turn>');
  types.push(3, 3);
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (const w of ['▁', 'user', 'model', 'Hello', '!', '\n']) {
    tokens.push(w);
    types.push(1);
  }
  const md = new Map<string, unknown>([
    ['general.architecture', 'gemma3'],
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.scores', tokens.map(() => 0)],
    ['tokenizer.ggml.bos_token_id', 2],
    ['tokenizer.ggml.eos_token_id', 1],
    ['tokenizer.ggml.unknown_token_id', 3],
    ['tokenizer.ggml.padding_token_id', 0],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_space_prefix', false],
  ]);
  return tokenizerFromGGUFMetadata(md, 'gemma-like');
}

test('Gemma 2 / 3 templates with a Gemma-style vocabulary: one <bos>, turn markers, stops at <end_of_turn>', () => {
  const tok = gemmaLikeVocab();
  for (const [f, msgs] of [['gemma-2-2b-it.jinja', noSystem], ['gemma-3-it.jinja', chat]] as const) {
    const { text, ids } = render(tok, f, [...msgs]);
    assert.ok(text.startsWith('<bos><start_of_turn>user\n'));
    assert.deepEqual(ids.slice(0, 2), [2, 106]);
    assert.equal(count(ids, 2), 1, `${f}: BOS once`);
    assert.equal(count(ids, 106), 4);
    assert.equal(count(ids, 107), 3);
    roundTrips(tok, ids, text);
  }
  assert.equal(tok.eot, 107);
  assert.ok(tok.stopIds.includes(107) && tok.stopIds.includes(1), String(tok.stopIds));
});

test('a vocabulary that does not add BOS keeps the BOS the template prints; one that adds EOS drops a printed EOS', () => {
  const base = gemmaLikeVocab();
  const noBos = Object.create(base, { addBos: { value: false } }) as Tokenizer;
  assert.deepEqual(encodeChatPrompt(noBos, '<bos><start_of_turn>'), [2, 106]);
  assert.deepEqual(encodeChatPrompt(noBos, '<start_of_turn>'), [106]);
  const eos = Object.create(base, { addEos: { value: true } }) as Tokenizer;
  assert.deepEqual(encodeChatPrompt(eos, '<bos><start_of_turn><eos>'), [2, 106, 1]);
  assert.deepEqual(encodeChatPrompt(eos, '<start_of_turn>'), [2, 106, 1]);
});

test("generate with messages stops at the template's end-of-turn token (<end_of_turn>), which is not in the text", async () => {
  const { generate } = await import('../../../src/generate/session.js');
  const tok = gemmaLikeVocab();
  const hello = id(tok, 'Hello');
  const script = [hello, id(tok, '!'), 107, hello];
  let step = 0;
  const seen: number[][] = [];
  const backend = {
    name: 'reference' as const,
    kvType: 'f32' as const,
    async forward(tokens: Int32Array, cache: { nextPosition: number }) {
      seen.push([...tokens]);
      cache.nextPosition += tokens.length;
      const logits = new Float32Array(tok.vocabSize);
      logits[script[Math.min(step++, script.length - 1)]!] = 10;
      return { logits };
    },
    async dispose() {},
  };
  const config = { architecture: 'gemma3', vocabSize: tok.vocabSize, contextLength: 256, blockCount: 1, headCountKv: 1, headDim: 4 };
  const model = { config: config as never, tokenizer: tok, backend: backend as never, chatTemplate: template('gemma-3-it.jinja') };
  const r = await generate(model, { messages: [{ role: 'user', content: 'Hello!' }], maxTokens: 10, sampling: { temperature: 0 } });
  assert.equal(r.stopReason, 'eos');
  assert.equal(r.text, 'Hello!');
  assert.deepEqual(r.tokens, [hello, id(tok, '!')]);
  assert.deepEqual(seen[0], r.promptTokens);
  assert.deepEqual(r.promptTokens.slice(0, 2), [2, 106]);
  const opening = [106, ...tok.encode('model\n', { addSpecial: false })];
  assert.deepEqual(r.promptTokens.slice(-opening.length), opening, 'the reply opens after <start_of_turn>model\\n');
});
