/**
 * A tiny GGUF model (random weights) with a SentencePiece byte vocabulary and, optionally, a
 * `tokenizer.chat_template`: ids are known by construction. <unk> <s> </s> are 0, 1, 2; byte b is 3 + b; then the
 * chat markers as user-defined tokens (259 "[U]", 260 "[/U]", 261 "[A]"), then any `extraTokens` (normal tokens from
 * 262 on, with their SentencePiece scores). No space prefix, so ASCII text other than the markers and extra tokens
 * encodes one byte token per character.
 */
import { gguf, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../../src/formats/gguf-writer.js';
import { randomWeightSource, smallConfig } from './random-model.js';

export const CHAT_TEMPLATE = '{{ bos_token }}{% for m in messages %}[U]{{ m.content }}[/U]{% endfor %}{% if add_generation_prompt %}[A]{% endif %}';
export const MARKER_IDS = { user: 259, endUser: 260, assistant: 261 } as const;

/** Token id of one ASCII character in this vocabulary. */
export const byteId = (ch: string): number => 3 + ch.charCodeAt(0);

export interface ChatModelOptions {
  contextLength?: number;
  /** Normal tokens appended after the markers (ids 262, 263, ...) with their scores. */
  extraTokens?: { text: string; score: number }[];
  /** Seed of the random weights. */
  seed?: number;
}

export function writeChatModel(path: string, chatTemplate?: string, options: ChatModelOptions = {}): void {
  const { contextLength = 64, extraTokens = [], seed = 5 } = options;
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  tokens.push('[U]', '[/U]', '[A]');
  types.push(4, 4, 4);
  const scores = tokens.map(() => -10);
  for (const t of extraTokens) {
    tokens.push(t.text);
    types.push(1);
    scores.push(t.score);
  }
  const config = smallConfig({ vocabSize: tokens.length, contextLength });
  const ws = randomWeightSource(config, seed);
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
    ['tokenizer.ggml.scores', gguf.f32Arr(scores)],
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
