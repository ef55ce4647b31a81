import { MODEL_OPTIONS, OUTPUT_OPTIONS, parseOptions, type OptionTable } from '../options.js';
import { openModelFile } from '../../formats/open-model-file.js';
import { summarizeModel, type ModelSummary } from '../../formats/model-summary.js';
import type { RopeScaling } from '../../core/model-config.js';

export const summary = 'describe a model file (GGUF or llama2.c checkpoint): shape, RoPE, tokenizer, tensors, KV cost';

export const help = `Usage: kvmerger info [-m FILE] [--json]

Describe a model file: architecture, parameter count, layers / heads / KV heads / head dim, context
length, RoPE settings, tokenizer family and vocabulary size, tensor types with counts, file size,
and the KV-cache bytes per token at F32. Works on any GGUF (also vocabulary-only files and
architectures kvmerger cannot run) and on llama2.c checkpoints.

  -m, --model FILE   a .gguf file or a llama2.c .bin checkpoint (default: the built-in model)
  --json             print exactly one JSON object instead of text
  -q, --quiet        nothing on stderr but errors

Examples:
  kvmerger info
  kvmerger info -m ../shared/data/models/stories260K.bin`;

const OPTIONS = { model: MODEL_OPTIONS.model, ...OUTPUT_OPTIONS } as const satisfies OptionTable;

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
  }
}

const show = (v: number | null | undefined) => (v === null || v === undefined ? '?' : String(v));

function text(s: ModelSummary): string {
  const rows: [string, string][] = [];
  const kind = s.format === 'gguf' ? `GGUF v${s.ggufVersion}` : 'llama2.c checkpoint';
  rows.push(['file', `${s.path} (${kind})`]);
  rows.push(['file size', bytes(s.fileSize)]);
  rows.push(['architecture', `${s.architecture ?? '?'}${s.name ? `  (${s.name})` : ''}`]);
  if (s.problem) rows.push([s.runnable ? 'note' : 'runnable', s.runnable ? s.problem : `no: ${s.problem}`]);
  rows.push(['parameters', s.tensorCount === 0 ? 'no weights (vocabulary-only file)' : `${count(s.parameterCount)} in ${s.tensorCount} tensors`]);
  rows.push(['layers', show(s.blockCount)]);
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
  rows.push([
    'KV cache',
    s.kvBytesPerTokenF32 === null
      ? '?'
      : `${s.kvBytesPerTokenF32.toLocaleString('en-US')} bytes per token at F32 (${s.blockCount} layers × ${s.headCountKv} KV heads × ${s.headDim} dims × K,V × 4 bytes)`,
  ]);
  return rows.map(([k, v]) => `${k.padEnd(13)} ${v}`).join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('info', argv, OPTIONS);
  let path = values.model;
  if (path === undefined) {
    const { defaultModelPath } = await import('../../model/load-model.js');
    path = defaultModelPath();
  }
  const file = openModelFile(path);
  try {
    const s = summarizeModel(file);
    process.stdout.write((values.json ? JSON.stringify(s) : text(s)) + '\n');
  } finally {
    file.close();
  }
  return 0;
}
