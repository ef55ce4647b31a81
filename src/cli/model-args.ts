/**
 * The model options shared by the commands that run a model: --model (-m), --tokenizer, --backend, --threads (-t),
 * --precision int8|fp32 (arithmetic of quantised products), --kv-type f16|f32 (how the KV cache stores values).
 */
import type { KvType } from '../cache/head-cache.js';
import type { BackendName, LoadedModel } from '../model/load-model.js';
import type { ComputePrecision } from '../model/ort/linear-layers.js';
import { LOAD_QUANT_TYPES, type LoadQuantType } from '../formats/hf-folder.js';
import { choiceOption, numberOption } from './options.js';

export { MODEL_OPTIONS, QUANTIZE_OPTION } from './options.js';

/** What the model options ask for, checked; `path` undefined: the built-in model. */
export interface ModelArgs {
  path: string | undefined;
  tokenizerPath: string | undefined;
  backend: BackendName;
  threads: number | undefined;
  precision: ComputePrecision;
  kvType: KvType;
  /** --quantize: a Hugging Face folder quantised at load. */
  quantize?: LoadQuantType;
}

/** `--backend`: 'ort' (the default) or 'reference'. */
export function parseBackend(value: string | undefined): BackendName {
  return choiceOption('backend', value, ['ort', 'reference'] as const, 'ort');
}

/** Checks --backend and --threads (an integer ≥ 1) without loading anything, so bad flags fail fast. */
export function parseModelArgs(values: { model?: string; tokenizer?: string; backend?: string; threads?: string; precision?: string; 'kv-type'?: string; quantize?: string }): ModelArgs {
  const quantize = values.quantize === undefined ? undefined : choiceOption('quantize', values.quantize, LOAD_QUANT_TYPES, 'q8_0');
  return {
    ...(quantize !== undefined ? { quantize } : {}),
    path: values.model,
    tokenizerPath: values.tokenizer,
    backend: parseBackend(values.backend),
    threads: numberOption('threads', values.threads, { integer: true, min: 1 }),
    precision: choiceOption('precision', values.precision, ['int8', 'fp32'] as const, 'int8'),
    kvType: choiceOption('kv-type', values['kv-type'], ['f16', 'f32'] as const, 'f16'),
  };
}

/**
 * Opens the model the options name. `modelPath` is the file used (the built-in model when --model is absent), for
 * the model's name in result rows. The loader is imported here, lazily, so `kvmerger --help` does not load it.
 */
export async function loadModelFromArgs(args: ModelArgs): Promise<{ model: LoadedModel; modelPath: string }> {
  const { loadModel, defaultModelPath } = await import('../model/load-model.js');
  const modelPath = args.path ?? defaultModelPath();
  const model = await loadModel(modelPath, { backend: args.backend, tokenizerPath: args.tokenizerPath, threads: args.threads, precision: args.precision, kvType: args.kvType, ...(args.quantize !== undefined ? { quantize: args.quantize } : {}) });
  return { model, modelPath };
}
