// `kvmerger generate --chat` on a GGUF that carries `tokenizer.chat_template`: the template comes from the file's
// metadata and the rendered prompt is what goes through the model (ids known by construction of the vocabulary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../../src/formats/gguf-writer.js';
import { loadModel } from '../../src/model/load-model.js';
import { generate } from '../../src/generate/session.js';
import { run } from '../../src/cli/commands/generate.js';
import { randomWeightSource, smallConfig } from '../helpers/random-model.js';
import { runCommand } from '../helpers/run-command.js';

const dir = mkdtempSync(join(tmpdir(), 'kvmerger-chat-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const TEMPLATE = '{{ bos_token }}{% for m in messages %}[U]{{ m.content }}[/U]{% endfor %}{% if add_generation_prompt %}[A]{% endif %}';

// SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens (ids 3..258), then the chat markers as user-defined tokens
// (259 "[U]", 260 "[/U]", 261 "[A]": always split out whole) and "h", "i", "hi" (262, 263, 264). No space prefix.
const tokens = ['<unk>', '<s>', '</s>'];
const types = [2, 3, 3];
for (let b = 0; b < 256; b++) {
  tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  types.push(6);
}
tokens.push('[U]', '[/U]', '[A]', 'h', 'i', 'hi');
types.push(4, 4, 4, 1, 1, 1);

function writeModel(path: string, chatTemplate?: string): void {
  const config = smallConfig({ vocabSize: tokens.length, contextLength: 64 });
  const ws = randomWeightSource(config, 3);
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str('llama')],
    ['llama.context_length', gguf.u32(config.contextLength)],
    ['llama.embedding_length', gguf.u32(config.embeddingLength)],
    ['llama.block_count', gguf.u32(config.blockCount)],
    ['llama.feed_forward_length', gguf.u32(config.feedForwardLength)],
    ['llama.attention.head_count', gguf.u32(config.headCount)],
    ['llama.attention.head_count_kv', gguf.u32(config.headCountKv)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(config.rmsNormEps)],
    ['tokenizer.ggml.model', gguf.str('llama')],
    ['tokenizer.ggml.tokens', gguf.strArr(tokens)],
    ['tokenizer.ggml.scores', gguf.f32Arr(tokens.map((t) => (t === 'hi' ? 0 : -10)))],
    ['tokenizer.ggml.token_type', gguf.i32Arr(types)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(2)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(0)],
    ['tokenizer.ggml.add_space_prefix', gguf.bool(false)],
  ]);
  if (chatTemplate !== undefined) meta.set('tokenizer.chat_template', gguf.str(chatTemplate));
  const names = ['token_embd.weight', 'output_norm.weight', 'output.weight'];
  for (let b = 0; b < config.blockCount; b++) {
    for (const p of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) names.push(`blk.${b}.${p}.weight`);
  }
  const tensors: GGUFTensorInput[] = names.map((name) => ({ name, dims: [...ws.shapeOf(name)].reverse(), type: 'F32', data: ws.get(name) }));
  writeGGUF(path, { metadata: meta, tensors });
}

const withTemplate = join(dir, 'chat.gguf');
const without = join(dir, 'plain.gguf');
writeModel(withTemplate, TEMPLATE);
writeModel(without);

test('the chat template is read from the GGUF and renders the prompt: BOS once, then [U] hi [/U] [A]', async () => {
  const m = await loadModel(withTemplate, { backend: 'reference' });
  try {
    assert.equal(m.chatTemplate, TEMPLATE);
    const chat = await generate(m, { prompt: 'hi', chat: true, maxTokens: 1 });
    assert.deepEqual(chat.promptTokens, [1, 259, 264, 260, 261]);
    const plain = await generate(m, { prompt: 'hi', maxTokens: 1 });
    assert.deepEqual(plain.promptTokens, [1, 264]);
  } finally {
    await m.close();
  }
});

test('kvmerger generate --chat: the rendered prompt goes through the model; a file without a template is a clear error', async () => {
  const args = ['--model', withTemplate, '--backend', 'reference', '--prompt', 'hi', '--max-tokens', '2', '--temperature', '0', '--json'];
  const chat = await runCommand(run, [...args, '--chat']);
  assert.equal(chat.code, 0);
  assert.deepEqual(JSON.parse(chat.out).tokens, { prompt: 5, generated: 2 });
  const plain = await runCommand(run, args);
  assert.equal(JSON.parse(plain.out).tokens.prompt, 2);
  await assert.rejects(
    run(['--model', without, '--backend', 'reference', '--prompt', 'hi', '--chat']),
    /--chat: the model file has no chat template \(tokenizer\.chat_template\); run without --chat/,
  );
});
