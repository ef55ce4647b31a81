import { MODEL_OPTIONS, OUTPUT_OPTIONS, QUANTIZE_OPTION, choiceOption, parseOptions, type OptionTable } from '../options.js';
import { LOAD_QUANT_TYPES } from '../../formats/hf-folder.js';
import { openModelFile } from '../../formats/open-model-file.js';
import { summarizeModel, type ModelSummary } from '../../formats/model-summary.js';
import type { RopeScaling } from '../../core/model-config.js';
import { matMulNBitsLayout } from '../../model/ort/matmul-nbits-packing.js';

/** How the fast path (ort backend) holds the matrices of each stored type. */
export function fastPathHolding(type: string): string {
  const l = matMulNBitsLayout(type);
  if (l) return `${l.bits}-bit packed${l.offset ? ' + offsets' : ''}`;
  if (type === 'F32') return 'as stored';
  if (type === 'F16' || type === 'BF16') return 'expanded to F32';
  return 'not supported (no dequantiser)';
}

export const summary = 'describe a model (GGUF, llama2.c checkpoint or Hugging Face folder): shape, RoPE, tokenizer, tensors, KV cost';

export const help = `Usage: kvmerger info [-m FILE] [--json]

Describe a model file: architecture, parameter count, layers (global / sliding-window and the
window) / heads / KV heads / head dim, context length, RoPE settings, what the block adds (q/k
norms, soft-capping, ...), tokenizer family and vocabulary size, tensor types and the quantisation
mix and how the fast path holds each type (packed in its own bits, or expanded to F32), chat template
(present or not), file size, and the KV-cache bytes per token at F32 and F16
per layer type. Works on any GGUF (also vocabulary-only files and architectures kvmerger cannot
run) and on llama2.c checkpoints.

  -m, --model FILE   a .gguf file, a llama2.c .bin checkpoint or a Hugging Face folder (default: the
                     built-in model)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder as it loads quantised (types, sizes)
  --json             print exactly one JSON object instead of text
  -q, --quiet        nothing on stderr but errors

Examples:
  kvmerger info
  kvmerger info -m ../shared/data/models/stories260K.bin`;

const OPTIONS = { model: MODEL_OPTIONS.model, ...QUANTIZE_OPTION, ...OUTPUT_OPTIONS } as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

function bytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]} (${n.toLocaleString('en-US')} bytes)`;
}

function count(n: number): string {
  const s = n.toLocaleString('en-US');
  if (n >= 1e9) return `${s} (${(n / 1e9).toFixed(2)}B)`;
  if (n >= 1e6) return `${s} (${(n / 1e6).toFixed(1)}M)`;
  if (n >= 1e3) return `${s} (${(n / 1e3).toFixed(1)}K)`;
  return s;
}

function scaling(s: RopeScaling | null): string {
  if (!s) return 'unknown';
  switch (s.type) {
    case 'none':
      return 'no scaling';
    case 'linear':
      return `linear scaling ×${s.factor}`;
    case 'llama3':
      return `llama3 scaling ×${s.factor} (low ${s.lowFreqFactor}, high ${s.highFreqFactor}, original context ${s.originalContextLength})`;
    case 'longrope':
      return `LongRoPE factors (attention factor ${+s.attnFactor.toFixed(4)}, original context ${s.originalContextLength})`;
  }
}

const show = (v: number | null | undefined) => (v === null || v === undefined ? '?' : String(v));

/** "26 (13 sliding-window of 4096 tokens, 13 global: layers 1, 3, …)" or the count when every layer is global. */
function layerKinds(s: ModelSummary): string {
  const a = s.attention;
  if (!a || a.window === null) return show(s.blockCount) + (a ? ' (all global attention)' : '');
  const sliding = a.layers.flatMap((k, l) => (k === 'sliding' ? [l] : []));
  const global = a.layers.length - sliding.length;
  const globals = a.layers.flatMap((k, l) => (k === 'global' ? [l] : []));
  const list = (xs: number[]) => (xs.length <= 8 ? xs.join(', ') : `${xs.slice(0, 6).join(', ')}, … ${xs[xs.length - 1]}`);
  return `${a.layers.length} (${sliding.length} sliding-window of ${a.window} tokens, ${global} global${global > 0 ? `: layer${global === 1 ? '' : 's'} ${list(globals)}` : ''})`;
}

function text(s: ModelSummary): string {
  const rows: [string, string][] = [];
  const kind = s.format === 'gguf' ? `GGUF v${s.ggufVersion}` : s.format === 'hf' ? 'Hugging Face folder (safetensors)' : 'llama2.c checkpoint';
  rows.push(['file', `${s.path} (${kind})`]);
  rows.push(['file size', bytes(s.fileSize)]);
  rows.push(['architecture', `${s.architecture ?? '?'}${s.name ? `  (${s.name})` : ''}`]);
  if (s.problem) rows.push([s.runnable ? 'note' : 'runnable', s.runnable ? s.problem : `no: ${s.problem}`]);
  rows.push(['parameters', s.tensorCount === 0 ? 'no weights (vocabulary-only file)' : `${count(s.parameterCount)} in ${s.tensorCount} tensors`]);
  rows.push(['layers', layerKinds(s)]);
  const gqa = s.headCount && s.headCountKv && s.headCount !== s.headCountKv ? ` (grouped-query, ${s.headCount / s.headCountKv} per KV head)` : '';
  rows.push(['heads', `${show(s.headCount)} query, ${show(s.headCountKv)} KV${gqa}, head dim ${show(s.headDim)}`]);
  rows.push(['widths', `embedding ${show(s.embeddingLength)}, feed-forward ${show(s.feedForwardLength)}`]);
  rows.push(['context', s.contextLength === null ? '?' : `${s.contextLength} tokens`]);
  const style = s.rope.style === 'normal' ? 'adjacent pairs (normal)' : s.rope.style === 'neox' ? 'half split (neox)' : 'style ?';
  const dims = s.rope.dimensionCount !== null ? `${s.rope.dimensionCount}${s.headDim ? ` of ${s.headDim}` : ''} dims` : '? dims';
  const ropeParts = [s.rope.style ? style : null, `base ${show(s.rope.freqBase)}`, dims, s.rope.scaling ? scaling(s.rope.scaling) : null];
  if (s.rope.freqFactorsTensor) ropeParts.push('per-frequency factors (rope_freqs.weight)');
  rows.push(['RoPE', ropeParts.filter((x) => x !== null).join(', ')]);
  if (s.rmsNormEps !== null) rows.push(['norm eps', String(s.rmsNormEps)]);
  if (s.tiedEmbeddings !== null) rows.push(['output', s.tiedEmbeddings ? 'tied to the token embedding' : 'own output.weight']);
  if (s.attentionBias) rows.push(['biases', 'q/k/v projections']);
  if (s.features.length > 0) rows.push(['block', s.features.join('; ')]);
  if (s.tokenizer) {
    const t = s.tokenizer;
    rows.push(['tokenizer', `${t.model}${t.pre ? ` (pre-tokenizer ${t.pre})` : ''}, ${t.vocabSize} tokens, BOS ${show(t.bosTokenId)}, EOS ${show(t.eosTokenId)}`]);
  } else {
    rows.push(['tokenizer', s.format === 'llama2c' ? 'none in the file (pass its tokenizer.bin with --tokenizer)' : 'none in the file']);
  }
  rows.push(['vocabulary', show(s.vocabSize)]);
  const types = Object.entries(s.tensorTypes)
    .sort((a, b) => b[1] - a[1])
    .map(([t, n]) => `${t} ×${n}`)
    .join(', ');
  rows.push(['tensor types', types || 'none']);
  if (s.quantization.length > 0) {
    const total = s.quantization.reduce((a, q) => a + q.parameters, 0);
    rows.push(['quantisation', s.quantization.map((q) => `${q.type} ${((100 * q.parameters) / total).toFixed(1)}%`).join(', ') + ' of the weights']);
    rows.push(['fast path', s.quantization.map((q) => `${q.type} ${fastPathHolding(q.type)}`).join(', ') + ' (docs/model-files.md)']);
  }
  if (s.format !== 'llama2c') rows.push(['chat template', s.chatTemplate ? 'yes (tokenizer.chat_template)' : 'none in the file']);
  rows.push([
    'KV cache',
    s.kvBytesPerTokenF32 === null
      ? '?'
      : `${s.kvBytesPerTokenF32.toLocaleString('en-US')} bytes per token at F32 (${s.blockCount} layers × ${s.headCountKv} KV heads × ${s.headDim} dims × K,V × 4 bytes), half at F16`,
  ]);
  const kv = s.kvBytes;
  if (kv && kv.slidingLayers > 0 && kv.window !== null) {
    rows.push([
      '',
      `per layer ${kv.perLayerF32.toLocaleString('en-US')} bytes per token at F32 (${kv.perLayerF16.toLocaleString('en-US')} at F16); global layers (${kv.globalLayers}) grow with the context, sliding layers (${kv.slidingLayers}) stop at ${kv.window} tokens`,
    ]);
  }
  if (kv && kv.atContextF16 !== null && s.contextLength !== null) rows.push(['', `${bytes(kv.atContextF16)} at F16 for the full ${s.contextLength}-token context`]);
  return rows.map(([k, v]) => `${k.padEnd(13)} ${v}`).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('info', argv, OPTIONS);
  let path = values.model;
  if (path === undefined) {
    const { defaultModelPath } = await import('../../model/load-model.js');
    path = defaultModelPath();
  }
  const quantize = values.quantize === undefined ? undefined : choiceOption('quantize', values.quantize, LOAD_QUANT_TYPES, 'q8_0');
  const file = openModelFile(path, quantize !== undefined ? { quantize } : {});
  try {
    const s = summarizeModel(file);
    const json = () => JSON.stringify({ ...s, fastPath: Object.fromEntries(s.quantization.map((q) => [q.type, fastPathHolding(q.type)])) });
    process.stdout.write((values.json ? json() : text(s)) + '\n');
  } finally {
    file.close();
  }
  return 0;
}
