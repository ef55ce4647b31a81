/**
 * Writes the default model's GGUF from tools/train/export.py's intermediate (<input>.json + <input>.bin):
 *
 *   npx tsx tools/export-gguf.ts --input /tmp/kvm-default --output models/kvmerger-default.gguf [--type F32|F16]
 *
 * Architecture `llama` (RoPE on adjacent pairs, as trained: no permutation), tied embeddings (no output.weight),
 * the tokenizer as GPT-2-style byte-level BPE (`tokenizer.ggml.model` = 'gpt2', `pre` = 'gpt-2': llama.cpp's name for GPT-2's pre-tokenizer).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gguf, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../src/formats/gguf-writer.js';
import { KvError } from '../src/util/errors.js';

interface Intermediate {
  format: string;
  config: {
    vocab_size: number;
    dim: number;
    n_layers: number;
    n_heads: number;
    n_kv_heads: number;
    ffn_dim: number;
    context: number;
    rope_base: number;
    norm_eps: number;
  };
  tokenizer: { vocab: string[]; merges: string[]; bos_id: number; eos_id: number; special: Record<string, number> };
  training: { step: number; tokens_seen: number; train_seconds: number; seed: number };
  tensors: { name: string; shape: number[]; offset: number; count: number }[];
}

const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;

export function buildGGUFInput(h: Intermediate, blob: Uint8Array, type: 'F32' | 'F16', name: string) {
  if (h.format !== 'kvmerger-f32-v1') throw new KvError(`intermediate format '${h.format}' is not kvmerger-f32-v1; re-run tools/train/export.py`);
  const c = h.config;
  const headDim = c.dim / c.n_heads;
  const specials = new Set(Object.values(h.tokenizer.special));
  const metadata: Record<string, MetadataInput> = {
    'general.architecture': gguf.str('llama'),
    'general.name': gguf.str(name),
    'general.file_type': gguf.u32(type === 'F32' ? 0 : 1),
    'general.description': gguf.str(
      `kvmerger's built-in default model: trained from scratch on Project Gutenberg books with synthetic retrieval tasks ` +
        `(step ${h.training.step}, ${h.training.tokens_seen} tokens, seed ${h.training.seed}); see docs/default-model.md`,
    ),
    'llama.vocab_size': gguf.u32(c.vocab_size),
    'llama.context_length': gguf.u32(c.context),
    'llama.embedding_length': gguf.u32(c.dim),
    'llama.block_count': gguf.u32(c.n_layers),
    'llama.feed_forward_length': gguf.u32(c.ffn_dim),
    'llama.attention.head_count': gguf.u32(c.n_heads),
    'llama.attention.head_count_kv': gguf.u32(c.n_kv_heads),
    'llama.rope.freq_base': gguf.f32(c.rope_base),
    'llama.rope.dimension_count': gguf.u32(headDim),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(c.norm_eps),
    'tokenizer.ggml.model': gguf.str('gpt2'),
    'tokenizer.ggml.pre': gguf.str('gpt-2'), // llama.cpp's name for GPT-2's regex ('gpt2' is unknown to it)
    'tokenizer.ggml.tokens': gguf.strArr(h.tokenizer.vocab),
    'tokenizer.ggml.token_type': gguf.i32Arr(h.tokenizer.vocab.map((_, i) => (specials.has(i) ? TOKEN_CONTROL : TOKEN_NORMAL))),
    'tokenizer.ggml.merges': gguf.strArr(h.tokenizer.merges),
    'tokenizer.ggml.bos_token_id': gguf.u32(h.tokenizer.bos_id),
    'tokenizer.ggml.eos_token_id': gguf.u32(h.tokenizer.eos_id),
    'tokenizer.ggml.add_bos_token': gguf.bool(true),
    'tokenizer.ggml.add_eos_token': gguf.bool(false),
  };
  const tensors: GGUFTensorInput[] = h.tensors.map((t) => {
    const end = t.offset + t.count * 4;
    if (end > blob.byteLength) throw new KvError(`tensor ${t.name}: data ends at byte ${end} but the .bin has ${blob.byteLength}; re-run export.py`);
    const data = new Float32Array(t.count);
    new Uint8Array(data.buffer).set(blob.subarray(t.offset, end)); // copy: the blob offset may not be 4-aligned
    return {
      name: t.name,
      dims: [...t.shape].reverse(), // GGUF lists the innermost dimension first
      type: t.shape.length === 1 ? 'F32' : type, // norms stay F32, as llama.cpp expects
      data,
    };
  });
  return { metadata, tensors };
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      input: { type: 'string' },
      output: { type: 'string' },
      type: { type: 'string', default: 'F32' },
      name: { type: 'string', default: 'kvmerger-default' },
    },
  });
  if (!values.input || !values.output) throw new KvError('export-gguf: --input <prefix of export.py output> and --output <file.gguf> are required');
  const type = values.type!.toUpperCase();
  if (type !== 'F32' && type !== 'F16') throw new KvError(`export-gguf: --type ${values.type} is not supported; use F32 or F16`);
  const h = JSON.parse(readFileSync(`${values.input}.json`, 'utf8')) as Intermediate;
  const blob = readFileSync(`${values.input}.bin`);
  const input = buildGGUFInput(h, blob, type, values.name!);
  writeGGUF(values.output, input);
  console.log(`wrote ${values.output}: ${input.tensors.length} tensors, ${type}, ${h.tokenizer.vocab.length} tokens`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
