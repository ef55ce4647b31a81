// The rendered chats of the published templates, tokenised by kvmerger and by llama.cpp itself (node-llama-cpp's
// prebuilt CPU build, the vocabulary-only GGUFs of llama.cpp's test vectors): the same ids, llama.cpp's chat path
// being "drop the template's BOS when the vocabulary adds one, then tokenize with BOS and special tokens". And every
// id kvmerger stops at is one llama.cpp treats as end of generation, the end-of-turn token the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyChatTemplate, type ChatMessage } from '../../../src/generate/chat-template.js';
import { chatTokenTexts, encodeChatPrompt } from '../../../src/generate/session.js';
import { openGGUF } from '../../../src/formats/gguf-reader.js';
import { llamaCpp } from '../../helpers/llama-cpp.js';
import { loadVocab, vocabFile } from '../../helpers/vocab-files.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'chat-templates');
const chat: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello! Ünïcode 🦙 and  two spaces.' },
  { role: 'assistant', content: 'Hi there.\n\nHow can I help?' },
  { role: 'user', content: 'What is 2+2?' },
];

const FROM_FILE = 'tokenizer.chat_template';
function fileTemplate(path: string): string {
  const g = openGGUF(path);
  try {
    return g.metadata!.get('tokenizer.chat_template') as string;
  } finally {
    g.close();
  }
}

const PAIRS: [vocab: string, templates: string[]][] = [
  ['llama-bpe', ['llama-3.1-8b-instruct.jinja', 'llama-3.2-3b-instruct.jinja']],
  ['qwen2', ['qwen2.5-7b-instruct.jinja', 'qwen3-0.6b.jinja']],
  ['phi-3', ['phi-3-mini-4k-instruct-2024-04.jinja', 'phi-3.5-mini-instruct.jinja']],
  ['llama-spm', ['mistral-7b-instruct-v0.2-v1.jinja', 'mistral-nemo-instruct-2407.jinja']],
  // Gemma 4: the chat template the vocabulary file carries (tokenizer.chat_template)
  ['gemma-4', [FROM_FILE]],
];

for (const [vocab, templates] of PAIRS) {
  const path = vocabFile(vocab);
  test(`chat prompts tokenised as llama.cpp does: ${vocab} with ${templates.join(', ')}`, { skip: path ? false : `ggml-vocab-${vocab}.gguf not found` }, async (t) => {
    const llama = await llamaCpp();
    if (!llama) return t.skip('node-llama-cpp is not installed');
    const tok = loadVocab(path!);
    const model = await llama.loadModel({ modelPath: path!, vocabOnly: true });
    try {
      assert.equal(model.tokens.bos === null ? undefined : Number(model.tokens.bos), tok.bos);
      assert.equal(model.tokens.eot === null ? undefined : Number(model.tokens.eot), tok.eot);
      for (const id of tok.stopIds) assert.ok(model.isEogToken(id as never), `${vocab}: ${id} (${tok.tokenToPiece(id)}) ends generation in llama.cpp too`);
      const { bosToken } = chatTokenTexts(tok);
      for (const f of templates) {
        const template = f === FROM_FILE ? fileTemplate(path!) : readFileSync(join(fixtures, f), 'utf8');
        const text = applyChatTemplate(template, chat, chatTokenTexts(tok));
        const ours = encodeChatPrompt(tok, text);
        const stripped = tok.addBos && bosToken && text.startsWith(bosToken) ? text.slice(bosToken.length) : text;
        const theirs = [...(tok.addBos ? [tok.bos!] : []), ...[...model.tokenize(stripped, true)].map(Number)];
        assert.deepEqual(ours, theirs, `${vocab} / ${f}`);
      }
    } finally {
      await model.dispose();
    }
  });
}

const EOG_VOCABS = ['llama-bpe', 'qwen2', 'qwen35', 'phi-3', 'llama-spm', 'gemma-4', 'command-r', 'gpt-2', 'deepseek-coder', 'deepseek-llm', 'falcon', 'starcoder', 'refact', 'mpt', 'baichuan', 'gpt-neox'];
test('the ids that end generation are llama.cpp\'s end-of-generation set, token for token, in every vocabulary', async (t) => {
  const llama = await llamaCpp();
  if (!llama) return t.skip('node-llama-cpp is not installed');
  const checked: string[] = [];
  for (const v of EOG_VOCABS) {
    const path = vocabFile(v);
    if (!path) continue;
    const tok = loadVocab(path);
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const theirs: number[] = [];
      for (let i = 0; i < tok.vocabSize; i++) if (model.isEogToken(i as never)) theirs.push(i);
      assert.deepEqual([...tok.stopIds], theirs, `${v}: ours ${tok.stopIds.map((i) => tok.tokenToPiece(i)).join(' ')}`);
      assert.equal(tok.eot, model.tokens.eot === null ? undefined : Number(model.tokens.eot), `${v}: end of turn`);
      checked.push(v);
    } finally {
      await model.dispose();
    }
  }
  if (checked.length === 0) t.skip('no vocabulary files found');
});
