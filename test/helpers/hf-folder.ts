/**
 * Small random Hugging Face model folders for tests, written from scratch (no Python): config.json, safetensors
 * (8-byte header length, JSON header, raw little-endian tensors; optionally sharded with model.safetensors.index.json),
 * a byte-level BPE tokenizer.json (the 256 byte symbols, a few merges, special tokens) and tokenizer_config.json with
 * a chat template. Tensors are in Hugging Face's layout (Llama q/k rows in rotate-half order, Gemma norms as w).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { floatToBf16Bits, floatToHalfBits } from '../../src/formats/half.js';
import { byteChar } from '../../src/tokenizer/byte-unicode.js';
import { Rng } from '../../src/util/rng.js';

export type StDtype = 'F32' | 'F16' | 'BF16';

export interface StTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  dtype?: StDtype;
}

/** The bytes of a safetensors file holding `tensors` (in order). */
export function safetensorsBytes(tensors: StTensor[], metadata: Record<string, string> = { format: 'pt' }): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let off = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    let b: Buffer;
    if (dtype === 'F32') b = Buffer.from(new Float32Array(t.data).buffer);
    else {
      const u = new Uint16Array(t.data.length);
      for (let i = 0; i < u.length; i++) u[i] = dtype === 'F16' ? floatToHalfBits(t.data[i]!) : floatToBf16Bits(t.data[i]!);
      b = Buffer.from(u.buffer);
    }
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + b.length] };
    chunks.push(b);
    off += b.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...chunks]);
}

export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const MERGE_WORDS = ['the', 'and', 'ing', 'hello', 'world', 'tion', 'er', 'in', 'on', 'at'];

/**
 * A byte-level BPE tokenizer.json: the 256 byte symbols, merges that build a few words (with and without a leading
 * space), then `specials` as added special tokens. `regex`: a Split pre-tokenizer before ByteLevel (Llama 3 / Qwen2
 * style); absent: ByteLevel with its own regex (GPT-2 style). Returns the JSON and its vocabulary size.
 */
export function byteLevelTokenizer(regex: string | undefined, specials: string[]): { json: Record<string, unknown>; size: number } {
  const vocab: Record<string, number> = {};
  let n = 0;
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = n++;
  const merges: [string, string][] = [];
  for (const w0 of MERGE_WORDS) {
    for (const w of [w0, ' ' + w0]) {
      const syms = [...w].map((c) => byteChar(c.charCodeAt(0)));
      let cur = syms[0]!;
      for (let i = 1; i < syms.length; i++) {
        const next = cur + syms[i]!;
        if (vocab[next] === undefined) {
          merges.push([cur, syms[i]!]);
          vocab[next] = n++;
        }
        cur = next;
      }
    }
  }
  const added = specials.map((content) => ({ id: n++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const pre = regex
    ? { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] }
    : { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: pre,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: regex === LLAMA3_REGEX, vocab, merges },
  };
  return { json, size: n };
}

export type HFArch = 'llama' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';

export interface HFFolderSpec {
  arch: HFArch;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  headDim?: number;
  ffn?: number;
  layers?: number;
  tied?: boolean;
  dtype?: StDtype;
  /** Split the tensors over this many shards with an index (default 1: model.safetensors). */
  shards?: number;
  /** Extra config.json keys (rope_scaling, ...). */
  config?: Record<string, unknown>;
  /** Multiplies the output projection (a peaked next-token distribution). */
  outputScale?: number;
  /** Rows of the embedding and output (default: the written tokenizer's size), for a real tokenizer.json put in later. */
  vocabSize?: number;
}

export const CHAT_TEMPLATE =
  "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const HF_NAMES: Record<HFArch, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
  gemma3: 'Gemma3ForCausalLM',
  phi3: 'Phi3ForCausalLM',
};

/** Writes a random folder at `dir`; returns its config.json and the tensors written (HF names, float32 values as stored). */
export function writeRandomHFFolder(dir: string, spec: HFFolderSpec, seed: number): { config: Record<string, unknown>; tensors: StTensor[]; vocabSize: number } {
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(seed);
  const E = spec.hidden ?? 64;
  const H = spec.heads ?? 4;
  const Hkv = spec.kvHeads ?? 2;
  const d = spec.headDim ?? E / H;
  const F = spec.ffn ?? 96;
  const L = spec.layers ?? 2;
  const dtype = spec.dtype ?? 'F32';
  const gemma = spec.arch === 'gemma2' || spec.arch === 'gemma3';
  const regex = spec.arch === 'llama' ? LLAMA3_REGEX : spec.arch === 'qwen2' || spec.arch === 'qwen3' ? QWEN2_REGEX : undefined;
  const tok = byteLevelTokenizer(regex, ['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
  const V = spec.vocabSize ?? tok.size;
  const tied = spec.tied ?? gemma;
  const mat = (rows: number, cols: number, s = 1) => {
    const a = new Float32Array(rows * cols);
    const std = s / Math.sqrt(cols);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
    return a;
  };
  const vec = (n: number, mean: number, std: number) => Float32Array.from({ length: n }, () => mean + rng.normal() * std);
  // Gemma stores norm weights as w with x·(1 + w): around 0. Others around 1.
  const norm = (n: number) => (gemma ? vec(n, 0, 0.1) : vec(n, 1, 0.1));
  const tensors: StTensor[] = [];
  const add = (name: string, shape: number[], data: Float32Array) => tensors.push({ name, shape, data, dtype });
  add('model.embed_tokens.weight', [V, E], vec(V * E, 0, 1));
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'input_layernorm.weight', [E], norm(E));
    if (spec.arch === 'phi3') {
      add(p + 'self_attn.qkv_proj.weight', [(H + 2 * Hkv) * d, E], mat((H + 2 * Hkv) * d, E));
    } else {
      add(p + 'self_attn.q_proj.weight', [H * d, E], mat(H * d, E));
      add(p + 'self_attn.k_proj.weight', [Hkv * d, E], mat(Hkv * d, E));
      add(p + 'self_attn.v_proj.weight', [Hkv * d, E], mat(Hkv * d, E));
    }
    if (spec.arch === 'qwen2') {
      add(p + 'self_attn.q_proj.bias', [H * d], vec(H * d, 0, 0.1));
      add(p + 'self_attn.k_proj.bias', [Hkv * d], vec(Hkv * d, 0, 0.1));
      add(p + 'self_attn.v_proj.bias', [Hkv * d], vec(Hkv * d, 0, 0.1));
    }
    if (spec.arch === 'qwen3' || spec.arch === 'gemma3') {
      add(p + 'self_attn.q_norm.weight', [d], norm(d));
      add(p + 'self_attn.k_norm.weight', [d], norm(d));
    }
    add(p + 'self_attn.o_proj.weight', [E, H * d], mat(E, H * d));
    add(p + 'post_attention_layernorm.weight', [E], norm(E));
    if (gemma) {
      add(p + 'pre_feedforward_layernorm.weight', [E], norm(E));
      add(p + 'post_feedforward_layernorm.weight', [E], norm(E));
    }
    if (spec.arch === 'phi3') add(p + 'mlp.gate_up_proj.weight', [2 * F, E], mat(2 * F, E));
    else {
      add(p + 'mlp.gate_proj.weight', [F, E], mat(F, E));
      add(p + 'mlp.up_proj.weight', [F, E], mat(F, E));
    }
    add(p + 'mlp.down_proj.weight', [E, F], mat(E, F));
  }
  add('model.norm.weight', [E], norm(E));
  if (!tied) add('lm_head.weight', [V, E], mat(V, E, spec.outputScale ?? 4));

  const config: Record<string, unknown> = {
    architectures: [HF_NAMES[spec.arch]],
    model_type: spec.arch,
    hidden_size: E,
    intermediate_size: F,
    num_hidden_layers: L,
    num_attention_heads: H,
    num_key_value_heads: Hkv,
    max_position_embeddings: 512,
    rms_norm_eps: 1e-6,
    rope_theta: spec.arch === 'qwen2' || spec.arch === 'qwen3' ? 1000000 : 10000,
    vocab_size: V,
    tie_word_embeddings: tied,
    bos_token_id: V - 3,
    eos_token_id: V - 1,
    torch_dtype: dtype === 'F32' ? 'float32' : dtype === 'F16' ? 'float16' : 'bfloat16',
  };
  if (spec.headDim !== undefined || gemma || spec.arch === 'qwen3') config.head_dim = d;
  if (spec.arch === 'gemma2') Object.assign(config, { attn_logit_softcapping: 50, final_logit_softcapping: 30, sliding_window: 8, query_pre_attn_scalar: d });
  if (spec.arch === 'gemma3') Object.assign(config, { sliding_window: 8, sliding_window_pattern: 6, rope_local_base_freq: 10000, query_pre_attn_scalar: d });
  if (spec.arch === 'phi3') Object.assign(config, { original_max_position_embeddings: 512, sliding_window: 262144 });
  Object.assign(config, spec.config ?? {});
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));

  const shards = spec.shards ?? 1;
  if (shards === 1) writeFileSync(join(dir, 'model.safetensors'), safetensorsBytes(tensors));
  else {
    const per = Math.ceil(tensors.length / shards);
    const weightMap: Record<string, string> = {};
    for (let s = 0; s < shards; s++) {
      const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
      const part = tensors.slice(s * per, (s + 1) * per);
      for (const t of part) weightMap[t.name] = file;
      writeFileSync(join(dir, file), safetensorsBytes(part));
    }
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
  }
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ bos_token: '<|im_start|>', eos_token: '<|im_end|>', add_bos_token: false, chat_template: CHAT_TEMPLATE, model_max_length: 512 }),
  );
  return { config, tensors, vocabSize: V };
}
