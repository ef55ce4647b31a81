/**
 * A Hugging Face model folder (`config.json`, `model.safetensors` or shards listed by `model.safetensors.index.json`,
 * `tokenizer.json` or `tokenizer.model`, `tokenizer_config.json`) presented as a ModelFile, the way llama.cpp's convert_hf_to_gguf.py would
 * write it as GGUF:
 * - config.json → the GGUF metadata keys of the architecture (`hfModelMetadata`), so `describeModel` reads a folder
 *   exactly as it reads the converted file;
 * - tensors under GGUF's names (`blk.{i}.attn_q.weight`, ...), with the converter's changes: Llama's q/k rows permuted
 *   from Hugging Face's rotate-half RoPE layout to GGUF's interleaved one, Gemma's norm weights stored as 1 + w (in the
 *   source dtype, as torch adds them), Llama 3's `rope_freqs.weight` and Phi-3's LongRoPE factor tensors made from
 *   config.json, `lm_head.weight` left out when the embeddings are tied;
 * - tensor types: F32 (every tensor expanded), or, with `quantize`, the mix `tensorTypeFor` chooses, made tensor by
 *   tensor with src/formats/quantize.ts when the tensor is read (`readBytes`); `get` dequantises those blocks so that
 *   both backends see the same weights.
 * Nothing is read before it is needed: opening reads config.json, the index and each shard's header.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KvError } from '../util/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import { dequantize } from './dequantize.js';
import { ggmlByteSize, ggmlTypeByName } from './ggml-types.js';
import { gguf } from './gguf-writer.js';
import type { GGUFTypedValue, GGUFValue } from './gguf-types.js';
import { floatToBf16Bits, floatToHalfBits, HALF_TO_FLOAT, bf16BitsToFloat } from './half.js';
import { hfTokenizerMetadata, hfChatTemplate, readJsonFile } from './hf-vocab.js';
import { describeModel, type TensorDirectory } from './model-description.js';
import type { ModelFile } from './model-file.js';
import { quantize } from './quantize.js';
import { openSafetensors, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The tensor types a folder can be quantised to at load (`--quantize`). */
export const LOAD_QUANT_TYPES = ['q8_0', 'q4_0', 'q4_k_m'] as const;
export type LoadQuantType = (typeof LOAD_QUANT_TYPES)[number];
/** The output types of `kvmerger convert --type`. */
export const CONVERT_TYPES = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k_m'] as const;
export type ConvertType = (typeof CONVERT_TYPES)[number];

/** llama.cpp's `general.file_type` (llama_ftype) of each output type. */
export const FILE_TYPE: Record<ConvertType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, q4_k_m: 15, bf16: 32 };

/** Hugging Face `architectures[0]` → GGUF architecture. */
const HF_ARCHITECTURES: Record<string, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Gemma2ForCausalLM: 'gemma2',
  Gemma3ForCausalLM: 'gemma3',
  Gemma3ForConditionalGeneration: 'gemma3',
  Phi3ForCausalLM: 'phi3',
};

/** True when `path` is a directory holding a config.json (a Hugging Face model folder). */
export function isHFFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory() && existsSync(join(path, 'config.json'));
  } catch {
    return false;
  }
}

/** config.json of the folder, with a multimodal model's `text_config` merged over it. */
export function readHFConfig(dir: string): Json {
  const path = join(dir, 'config.json');
  const cfg = readJsonFile(path);
  if (!cfg) throw new KvError(`${dir}: no config.json; a Hugging Face model folder needs one`);
  return isObj(cfg.text_config) ? { ...cfg, ...cfg.text_config, architectures: cfg.architectures } : cfg;
}

/** The GGUF architecture of a config.json, or a KvError naming the file and the supported ones. */
export function hfArchitecture(cfg: Json, where: string): string {
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.filter((a): a is string => typeof a === 'string') : [];
  for (const a of archs) if (HF_ARCHITECTURES[a]) return HF_ARCHITECTURES[a]!;
  const named = archs.length > 0 ? archs.join(', ') : `model_type ${String(cfg.model_type)}`;
  throw new KvError(`${where}: architecture ${named} is not supported; kvmerger reads ${Object.keys(HF_ARCHITECTURES).join(', ')}`);
}

function need(cfg: Json, keys: string[], where: string): number {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  throw new KvError(`${where}: ${keys[0]} is missing or not a number`);
}
function opt(cfg: Json, keys: string[]): number | undefined {
  for (const k of keys) {
    const v = cfg[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}
function posIntOf(v: number, key: string, where: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new KvError(`${where}: ${key} = ${v} must be a positive integer`);
  return v;
}

/** RoPE parameters as the converter reads them: `rope_parameters` or `rope_scaling`, with rope_theta mirrored in. */
function ropeParameters(cfg: Json): Json {
  const rp: Json = { ...((isObj(cfg.rope_parameters) ? cfg.rope_parameters : isObj(cfg.rope_scaling) ? cfg.rope_scaling : {}) as Json) };
  const full = isObj(rp.full_attention) ? (rp.full_attention as Json) : rp;
  if (full.rope_theta === undefined && typeof cfg.rope_theta === 'number') full.rope_theta = cfg.rope_theta;
  if (full.rope_type === undefined && typeof full.type === 'string') full.rope_type = full.type;
  if (full.original_max_position_embeddings === undefined && typeof cfg.original_max_position_embeddings === 'number') {
    full.original_max_position_embeddings = cfg.original_max_position_embeddings;
  }
  if (full.partial_rotary_factor === undefined && typeof cfg.partial_rotary_factor === 'number') full.partial_rotary_factor = cfg.partial_rotary_factor;
  return full;
}

/** What a tensor of the folder needs besides a read: generated tensors carry their values. */
interface PlannedTensor {
  name: string;
  /** Row-major, outermost first. */
  shape: number[];
  /** The Hugging Face tensor it is read from (absent for generated tensors). */
  source?: { file: SafetensorsFile; info: SafetensorsTensor };
  /** Rows permuted from rotate-half to interleaved, per head of `heads` (Llama q/k). */
  permuteHeads?: number;
  /** Gemma: stored as 1 + w. */
  plusOne?: boolean;
  values?: Float32Array;
}

/**
 * The GGUF metadata (typed, llama.cpp's keys) of a config.json: the architecture's keys as convert_hf_to_gguf.py
 * writes them, and `extra` tensors it generates (rope_freqs, rope_factors_long/short).
 */
export function hfModelMetadata(cfg: Json, where: string, name: string): { metadata: Map<string, GGUFTypedValue>; extra: { name: string; values: Float32Array }[] } {
  const arch = hfArchitecture(cfg, where);
  const md = new Map<string, GGUFTypedValue>();
  const k = (s: string) => `${arch}.${s}`;
  const u32 = (key: string, v: number) => md.set(k(key), gguf.u32(posIntOf(v, key, where)));
  const f32 = (key: string, v: number) => md.set(k(key), gguf.f32(v));
  md.set('general.architecture', gguf.str(arch));
  md.set('general.name', gguf.str(name));
  const E = posIntOf(need(cfg, ['hidden_size', 'n_embd', 'dim'], where), 'hidden_size', where);
  const H = posIntOf(need(cfg, ['num_attention_heads', 'n_head', 'n_heads'], where), 'num_attention_heads', where);
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  const Hkv = opt(cfg, ['num_key_value_heads', 'n_kv_heads']) ?? (arch === 'gemma3' ? 4 : H);
  const ctx = opt(cfg, ['max_position_embeddings', 'n_ctx', 'n_positions']) ?? (arch === 'gemma3' ? 131072 : undefined);
  if (ctx === undefined) throw new KvError(`${where}: max_position_embeddings is missing`);
  const headDimCfg = opt(cfg, ['head_dim']) ?? (gemma ? 256 : undefined);
  u32('context_length', ctx);
  u32('embedding_length', E);
  u32('block_count', need(cfg, ['num_hidden_layers', 'n_layers', 'n_layer', 'num_layers'], where));
  u32('feed_forward_length', need(cfg, ['intermediate_size', 'n_inner', 'hidden_dim'], where));
  u32('attention.head_count', H);
  u32('attention.head_count_kv', Hkv);
  f32('attention.layer_norm_rms_epsilon', opt(cfg, ['rms_norm_eps', 'norm_eps']) ?? 1e-6);
  if (headDimCfg !== undefined) {
    u32('attention.key_length', headDimCfg);
    u32('attention.value_length', headDimCfg);
  }
  const rp = ropeParameters(cfg);
  const theta = typeof rp.rope_theta === 'number' ? rp.rope_theta : arch === 'gemma3' ? 1_000_000 : undefined;
  if (theta !== undefined) f32('rope.freq_base', theta);
  const ropeType = typeof rp.rope_type === 'string' ? rp.rope_type.toLowerCase() : undefined;
  const factor = typeof rp.factor === 'number' ? rp.factor : undefined;
  const extra: { name: string; values: Float32Array }[] = [];
  const headDim = headDimCfg ?? E / H;
  if (ropeType !== undefined && ropeType !== 'default') {
    if (ropeType === 'linear' && factor !== undefined) {
      md.set(k('rope.scaling.type'), gguf.str('linear'));
      f32('rope.scaling.factor', factor);
    } else if (ropeType === 'llama3' && arch === 'llama') {
      extra.push({ name: 'rope_freqs.weight', values: llama3RopeFactors(rp, theta ?? 10000, headDim) });
    } else if ((ropeType === 'longrope' || ropeType === 'su') && arch === 'phi3') {
      // handled below with the factor tensors
    } else {
      throw new KvError(`${where}: RoPE scaling '${ropeType}' is not supported (kvmerger: none, linear, llama3, Phi-3 longrope)`);
    }
  }
  switch (arch) {
    case 'llama': {
      u32('vocab_size', need(cfg, ['vocab_size'], where));
      u32('rope.dimension_count', headDim);
      break;
    }
    case 'gemma2':
      f32('attn_logit_softcapping', opt(cfg, ['attn_logit_softcapping']) ?? 50);
      f32('final_logit_softcapping', opt(cfg, ['final_logit_softcapping']) ?? 30);
      u32('attention.sliding_window', opt(cfg, ['sliding_window']) ?? 4096);
      break;
    case 'gemma3': {
      const cap = opt(cfg, ['final_logit_softcapping']);
      if (cap) f32('final_logit_softcapping', cap);
      if (cfg.sliding_window_pattern !== 1 && typeof cfg.sliding_window === 'number') u32('attention.sliding_window', cfg.sliding_window);
      const sliding = isObj(cfg.rope_parameters) && isObj(cfg.rope_parameters.sliding_attention) ? cfg.rope_parameters.sliding_attention : {};
      const local = opt(cfg, ['rope_local_base_freq', 'local_rope_theta']) ?? opt(sliding, ['rope_theta']);
      if (local !== undefined) f32('rope.freq_base_swa', local);
      break;
    }
    case 'phi3': {
      const orig = typeof rp.original_max_position_embeddings === 'number' ? rp.original_max_position_embeddings : undefined;
      if (orig !== undefined) u32('rope.scaling.original_context_length', orig);
      const pct = typeof rp.partial_rotary_factor === 'number' ? rp.partial_rotary_factor : 1;
      const ropeDims = Math.floor(Math.floor(pct * E) / H);
      u32('rope.dimension_count', ropeDims);
      md.set(k('attention.sliding_window'), gguf.u32(typeof cfg.sliding_window === 'number' ? cfg.sliding_window : 0));
      const long = rp.long_factor;
      const short = rp.short_factor;
      if (Array.isArray(long) && long.length > 0) {
        if (!Array.isArray(short) || long.length !== short.length || long.length !== ropeDims / 2) {
          throw new KvError(`${where}: rope_scaling long_factor and short_factor must both have ${ropeDims / 2} values`);
        }
        if (orig === undefined) throw new KvError(`${where}: LongRoPE needs original_max_position_embeddings`);
        const scale = ctx / orig;
        const attn = scale > 1 ? Math.sqrt(1 + Math.log(scale) / Math.log(orig)) : 1;
        f32('rope.scaling.attn_factor', attn);
        extra.push({ name: 'rope_factors_long.weight', values: Float32Array.from(long as number[]) });
        extra.push({ name: 'rope_factors_short.weight', values: Float32Array.from(short as number[]) });
      }
      break;
    }
    default:
      break;
  }
  return { metadata: md, extra };
}

/** Llama 3's per-pair RoPE divisors (convert_hf_to_gguf.py's generate_extra_tensors, in float32 as torch computes them). */
function llama3RopeFactors(rp: Json, base: number, dim: number): Float32Array {
  const fr = Math.fround;
  const factor = typeof rp.factor === 'number' ? rp.factor : 8;
  const low = typeof rp.low_freq_factor === 'number' ? rp.low_freq_factor : 1;
  const high = typeof rp.high_freq_factor === 'number' ? rp.high_freq_factor : 4;
  const old = typeof rp.original_max_position_embeddings === 'number' ? rp.original_max_position_embeddings : 8192;
  const lowWave = old / low;
  const highWave = old / high;
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const freq = fr(1 / fr(base ** fr((2 * i) / dim)));
    const wavelen = fr((2 * Math.PI) / freq);
    if (wavelen < highWave) out[i] = 1;
    else if (wavelen > lowWave) out[i] = factor;
    else {
      const smooth = (old / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}

/** llama.cpp's use_more_bits: the layers Q4_K_M gives Q6_K for attn_v and ffn_down. */
function useMoreBits(i: number, n: number): boolean {
  return i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;
}

/** llama.cpp's fallback when a row is not a whole number of 256-blocks. */
const K_FALLBACK: Record<string, string> = { Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0' };

/**
 * The stored type of tensor `name` (row-major `shape`) for output type `target`: 1-D tensors (norms, biases, RoPE
 * factors) stay F32; matrices get the type (f16, bf16, q8_0, q4_0), or for q4_k_m llama.cpp's mix: Q6_K for the
 * output head (and a tied token_embd), Q6_K for attn_v and ffn_down in the layers use_more_bits picks, Q5_K for a fused
 * attn_qkv, Q4_K for the rest; rows that are not whole blocks fall back as llama.cpp does (Q4_K → Q5_0, Q5_K → Q5_1,
 * Q6_K → Q8_0; 32-blocks → F16).
 */
export function tensorTypeFor(name: string, shape: number[], target: ConvertType, blockCount: number, tied: boolean): string {
  if (shape.length < 2 || target === 'f32' || name.startsWith('rope_')) return 'F32';
  if (target === 'f16') return 'F16';
  if (target === 'bf16') return 'BF16';
  const cols = shape[shape.length - 1]!;
  let type: string;
  if (target === 'q8_0') type = 'Q8_0';
  else if (target === 'q4_0') type = 'Q4_0';
  else {
    const layer = /^blk\.(\d+)\.(.*)$/.exec(name);
    const part = layer?.[2] ?? '';
    if (name === 'output.weight' || (tied && name === 'token_embd.weight')) type = cols % 256 === 0 ? 'Q6_K' : 'Q8_0';
    else if ((part === 'attn_v.weight' || part === 'ffn_down.weight') && useMoreBits(Number(layer![1]), blockCount)) type = 'Q6_K';
    else if (part === 'attn_qkv.weight') type = 'Q5_K';
    else type = 'Q4_K';
  }
  const info = ggmlTypeByName(type)!;
  if (cols % info.blockSize !== 0) type = K_FALLBACK[type] ?? 'F16';
  if (cols % ggmlTypeByName(type)!.blockSize !== 0) type = 'F16';
  return type;
}

/** HF name (prefix stripped) → GGUF name, per architecture. */
function ggufTensorName(hf: string, arch: string): string | undefined {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (!m) return undefined;
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  const parts: Record<string, string> = {
    'input_layernorm.weight': 'attn_norm.weight',
    'post_attention_layernorm.weight': gemma ? 'post_attention_norm.weight' : 'ffn_norm.weight',
    'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
    'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
    'self_attn.q_proj.weight': 'attn_q.weight',
    'self_attn.k_proj.weight': 'attn_k.weight',
    'self_attn.v_proj.weight': 'attn_v.weight',
    'self_attn.q_proj.bias': 'attn_q.bias',
    'self_attn.k_proj.bias': 'attn_k.bias',
    'self_attn.v_proj.bias': 'attn_v.bias',
    'self_attn.o_proj.weight': 'attn_output.weight',
    'self_attn.qkv_proj.weight': 'attn_qkv.weight',
    'self_attn.q_norm.weight': 'attn_q_norm.weight',
    'self_attn.k_norm.weight': 'attn_k_norm.weight',
    'mlp.gate_proj.weight': 'ffn_gate.weight',
    'mlp.up_proj.weight': 'ffn_up.weight',
    'mlp.down_proj.weight': 'ffn_down.weight',
    'mlp.gate_up_proj.weight': 'ffn_up.weight',
  };
  const p = parts[m[2]!];
  return p === undefined ? undefined : `blk.${m[1]}.${p}`;
}

/** Multimodal and base-model prefixes, stripped to the causal-LM names. */
function stripPrefix(name: string): string {
  for (const [from, to] of [
    ['model.language_model.', 'model.'],
    ['language_model.model.', 'model.'],
    ['language_model.lm_head.', 'lm_head.'],
  ] as const) {
    if (name.startsWith(from)) return to + name.slice(from.length);
  }
  return name;
}

/** HF tensors that carry no weights the runtime uses (vision towers, RoPE caches). */
function ignoredTensor(name: string): boolean {
  return name.endsWith('rotary_emb.inv_freq') || /^(vision_tower|multi_modal_projector|model\.vision_tower|model\.multi_modal_projector)\./.test(name);
}

/** The shards of a folder: from model.safetensors.index.json, else model.safetensors, else every *.safetensors. */
function shardFiles(dir: string): { files: string[]; weightMap: Map<string, string> | undefined } {
  const indexPath = join(dir, 'model.safetensors.index.json');
  const index = readJsonFile(indexPath);
  if (index) {
    if (!isObj(index.weight_map)) throw new KvError(`${indexPath}: no "weight_map" object`);
    const weightMap = new Map<string, string>();
    for (const [t, f] of Object.entries(index.weight_map)) {
      if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new KvError(`${indexPath}: weight_map gives '${t}' a bad file name`);
      weightMap.set(t, f);
    }
    const files = [...new Set(weightMap.values())].sort();
    for (const f of files) if (!existsSync(join(dir, f))) throw new KvError(`${join(dir, f)}: missing (named by model.safetensors.index.json); the download is incomplete`);
    return { files, weightMap };
  }
  if (existsSync(join(dir, 'model.safetensors'))) return { files: ['model.safetensors'], weightMap: undefined };
  const all = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  if (all.length === 0) {
    const bin = existsSync(join(dir, 'pytorch_model.bin')) || existsSync(join(dir, 'pytorch_model.bin.index.json'));
    throw new KvError(`${dir}: no .safetensors weights${bin ? ' (pytorch_model.bin is not read; convert it to safetensors first)' : ''}`);
  }
  return { files: all, weightMap: undefined };
}

export interface HFFolderOptions {
  /** Quantise matrices as they are read: the type mix of `tensorTypeFor`. Absent: every tensor F32. */
  quantize?: LoadQuantType;
}

/** An opened Hugging Face folder. */
export interface HFModelFile extends ModelFile {
  /** Metadata with GGUF types (model keys and, when the tokenizer converts, the tokenizer fields). */
  readonly typedMetadata: Map<string, GGUFTypedValue>;
  /** Why the tokenizer fields could not be made (hf-vocab.ts's one line; `convert` refuses such a folder). */
  readonly tokenizerProblem: string | undefined;
  /** The folder's tokenizer.json, if any. */
  readonly tokenizerPath: string | undefined;
  /** GGUF dims (innermost first) of a tensor. */
  dimsOf(name: string): number[];
  /** The tensor as float32 with the converter's changes (permutation, Gemma's + 1), not cached. */
  readF32(name: string): Float32Array;
  /** The tensor's bytes as `type` (quantised here from its float32 values). */
  encode(name: string, type: string): Uint8Array;
}

class HFFolder implements HFModelFile {
  readonly format = 'hf' as const;
  readonly gguf = undefined;
  readonly typedMetadata: Map<string, GGUFTypedValue>;
  readonly metadata: Map<string, GGUFValue>;
  readonly tokenizerProblem: string | undefined;
  readonly tokenizerPath: string | undefined;
  readonly fileSize: number;
  private readonly files: SafetensorsFile[] = [];
  private readonly plan = new Map<string, PlannedTensor>();
  private readonly cache = new Map<string, Float32Array>();
  private readonly types = new Map<string, string>();
  private cfg: ModelConfig | undefined;
  private cfgError: KvError | undefined;

  constructor(readonly path: string, options: HFFolderOptions) {
    try {
      const hf = readHFConfig(path);
      const where = join(path, 'config.json');
      const arch = hfArchitecture(hf, where);
      const { metadata, extra } = hfModelMetadata(hf, where, basename(path.replace(/[/\\]+$/, '')) || 'model');
      this.typedMetadata = metadata;
      // Shards and their headers (each checked against its file's size).
      const { files, weightMap } = shardFiles(path);
      const byFile = new Map<string, SafetensorsFile>();
      for (const f of files) {
        const st = openSafetensors(join(path, f));
        this.files.push(st);
        byFile.set(f, st);
      }
      this.fileSize = this.files.reduce((a, f) => a + f.fileSize, 0);
      const sources = new Map<string, { file: SafetensorsFile; info: SafetensorsTensor }>();
      if (weightMap) {
        for (const [t, f] of weightMap) {
          const st = byFile.get(f)!;
          const info = st.tensors.get(t);
          if (!info) throw new KvError(`${st.path}: has no tensor '${t}', which model.safetensors.index.json places there; the shard is damaged or from another model`);
          sources.set(stripPrefix(t), { file: st, info });
        }
      } else {
        for (const st of this.files) for (const [t, info] of st.tensors) sources.set(stripPrefix(t), { file: st, info });
      }
      const H = metadata.get(`${arch}.attention.head_count`)!.value as number;
      const Hkv = metadata.get(`${arch}.attention.head_count_kv`)!.value as number;
      const gemma = arch === 'gemma2' || arch === 'gemma3';
      const tieFlag = hf.tie_word_embeddings;
      const tied = gemma || tieFlag === true || (tieFlag === undefined && !sources.has('lm_head.weight'));
      for (const e of extra) this.plan.set(e.name, { name: e.name, shape: [e.values.length], values: e.values });
      for (const [hfName, src] of sources) {
        if (ignoredTensor(hfName)) continue;
        const name = ggufTensorName(hfName, arch);
        if (name === undefined) {
          if (hfName.startsWith('model.layers.') || hfName.startsWith('model.') || hfName === 'lm_head.weight') {
            throw new KvError(`${src.file.path}: tensor '${hfName}' has no GGUF counterpart for ${arch}; the folder is not a plain ${arch} model`);
          }
          continue;
        }
        if (name === 'output.weight' && tied) continue;
        if (src.info.dtype !== 'F32' && src.info.dtype !== 'F16' && src.info.dtype !== 'BF16') {
          throw new KvError(`${src.file.path}: tensor '${hfName}' is ${src.info.dtype}; kvmerger reads F32, F16 and BF16 safetensors`);
        }
        const t: PlannedTensor = { name, shape: src.info.shape, source: src };
        if (arch === 'llama' && /\.attn_[qk]\.(weight|bias)$/.test(name)) t.permuteHeads = name.includes('attn_q') ? H : Hkv;
        if (gemma && hfName.endsWith('norm.weight')) t.plusOne = true;
        this.plan.set(name, t);
      }
      const order = (n: string): [number, number, string] => {
        const m = /^blk\.(\d+)\./.exec(n);
        if (m) return [1, Number(m[1]), n];
        return [n === 'token_embd.weight' || n.startsWith('rope_') ? 0 : 2, 0, n];
      };
      const sorted = [...this.plan.keys()].sort((a, b) => {
        const [x, y] = [order(a), order(b)];
        return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
      });
      const reordered = new Map(sorted.map((n) => [n, this.plan.get(n)!]));
      this.plan.clear();
      for (const [n, t] of reordered) this.plan.set(n, t);
      if (!this.plan.has('token_embd.weight')) throw new KvError(`${path}: no model.embed_tokens.weight in the safetensors files; the folder is incomplete`);
      const blockCount = metadata.get(`${arch}.block_count`)!.value as number;
      for (const [n, t] of this.plan) {
        this.types.set(n, options.quantize ? tensorTypeFor(n, t.shape, options.quantize, blockCount, tied) : 'F32');
      }
      if (options.quantize) {
        metadata.set('general.file_type', gguf.u32(FILE_TYPE[options.quantize]));
      }
      // Tokenizer fields, when the tokenizer converts (a folder whose tokenizer does not still runs with --tokenizer).
      const tj = join(path, 'tokenizer.json');
      this.tokenizerPath = existsSync(tj) ? tj : undefined;
      let tokProblem: string | undefined;
      try {
        const vocab = (metadata.get('llama.vocab_size')?.value as number | undefined) ?? need(hf, ['vocab_size'], where);
        for (const [key, v] of hfTokenizerMetadata(path, vocab, hf)) metadata.set(key, v);
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        tokProblem = err.message;
        const template = hfChatTemplate(path, readJsonFile(join(path, 'tokenizer_config.json')));
        if (template !== undefined) metadata.set('tokenizer.chat_template', gguf.str(template));
      }
      this.tokenizerProblem = tokProblem;
      this.metadata = new Map([...metadata].map(([key, v]) => [key, v.value]));
      const dir: TensorDirectory = { has: (n) => this.plan.has(n), dims: (n) => this.plan.get(n) && this.dimsOf(n), count: this.plan.size };
      try {
        this.cfg = describeModel(this.metadata, dir, path);
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        this.cfgError = err;
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  get config(): ModelConfig {
    if (this.cfgError) throw this.cfgError;
    return this.cfg!;
  }
  get configError(): string | undefined {
    return this.cfgError?.message;
  }
  private planned(name: string): PlannedTensor {
    const t = this.plan.get(name);
    if (!t) throw new KvError(`${this.path}: no tensor named '${name}'`);
    return t;
  }
  has(name: string): boolean {
    return this.plan.has(name);
  }
  typeOf(name: string): string {
    this.planned(name);
    return this.types.get(name)!;
  }
  shapeOf(name: string): number[] {
    return [...this.planned(name).shape];
  }
  dimsOf(name: string): number[] {
    return [...this.planned(name).shape].reverse();
  }
  byteSizeOf(name: string): number {
    const t = this.planned(name);
    return ggmlByteSize(ggmlTypeByName(this.typeOf(name))!, t.shape.reduce((a, b) => a * b, 1));
  }
  tensorNames(): string[] {
    return [...this.plan.keys()];
  }
  parameterCount(): number {
    let n = 0;
    for (const t of this.plan.values()) n += t.shape.reduce((a, b) => a * b, 1);
    return n;
  }
  readF32(name: string): Float32Array {
    const t = this.planned(name);
    if (t.values) return t.values.slice();
    const { file, info } = t.source!;
    const what = `${file.path}: tensor '${info.name}'`;
    let x = file.readF32(info.name);
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i]!)) throw new KvError(`${what}: element ${i} is ${x[i]}; the weights are damaged`);
    }
    if (t.plusOne) {
      // torch adds 1 in the tensor's dtype: a BF16 / F16 norm is rounded back to it, as the converter stores it.
      const round = info.dtype === 'BF16' ? (v: number) => bf16BitsToFloat(floatToBf16Bits(v)) : info.dtype === 'F16' ? (v: number) => HALF_TO_FLOAT[floatToHalfBits(v)]! : (v: number) => v;
      for (let i = 0; i < x.length; i++) x[i] = round(Math.fround(x[i]! + 1));
    }
    if (t.permuteHeads !== undefined) x = permuteRows(x, t.shape, t.permuteHeads, what);
    return x;
  }
  encode(name: string, type: string): Uint8Array {
    return quantize(this.readF32(name), type, `${this.path}: tensor '${name}'`);
  }
  get(name: string): Float32Array {
    let v = this.cache.get(name);
    if (!v) {
      v = this.fresh(name);
      this.cache.set(name, v);
    }
    return v;
  }
  private fresh(name: string): Float32Array {
    const type = this.typeOf(name);
    if (type === 'F32') return this.readF32(name);
    const bytes = this.encode(name, type);
    return dequantize(bytes, type, this.planned(name).shape.reduce((a, b) => a * b, 1), `${this.path}: tensor '${name}'`);
  }
  readInto(name: string, dest: Float32Array): void {
    dest.set(this.cache.get(name) ?? this.fresh(name));
  }
  readBytes(name: string): Uint8Array {
    const type = this.typeOf(name);
    if (type === 'F32') {
      const x = this.readF32(name);
      return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    }
    return this.encode(name, type);
  }
  dropCache(): void {
    this.cache.clear();
  }
  close(): void {
    this.cache.clear();
    for (const f of this.files) f.close();
  }
}

/**
 * llama.cpp's LlamaModel.permute: within each of `heads` heads of d rows, row 2j + h of the GGUF tensor is row
 * h·d/2 + j of the Hugging Face one (rotate-half pairs (j, j + d/2) become adjacent pairs (2j, 2j + 1)).
 */
export function permuteRows(x: Float32Array, shape: number[], heads: number, what: string): Float32Array {
  const rows = shape[0]!;
  const cols = shape.length > 1 ? x.length / rows : 1;
  if (rows % (2 * heads) !== 0) throw new KvError(`${what}: ${rows} rows do not split into ${heads} heads of an even size`);
  const d = rows / heads;
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < d / 2; j++) {
      for (let half = 0; half < 2; half++) {
        const src = h * d + half * (d / 2) + j;
        const dst = h * d + 2 * j + half;
        out.set(x.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** Opens a Hugging Face model folder. The caller must `close()` it. */
export function openHFFolder(dir: string, options: HFFolderOptions = {}): HFModelFile {
  return new HFFolder(dir, options);
}
