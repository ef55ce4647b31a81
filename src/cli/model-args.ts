/** The model options shared by the commands that run a model: --model, --tokenizer, --backend, --threads. */
import { KvError } from '../util/errors.js';
import type { BackendName, LoadedModel } from '../model/load-model.js';
import { parseIntFlag } from './grid-args.js';

/** Spread into `parseArgs`' options. */
export const MODEL_OPTIONS = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  backend: { type: 'string' },
  threads: { type: 'string' },
} as const;

/** What the model options ask for, checked; `path` undefined: the built-in model. */
export interface ModelArgs {
  path: string | undefined;
  tokenizerPath: string | undefined;
  backend: BackendName;
  threads: number | undefined;
}

/** `--backend`: 'ort' (the default) or 'reference'. */
export function parseBackend(value: string | undefined): BackendName {
  const backend = value ?? 'ort';
  if (backend !== 'ort' && backend !== 'reference') throw new KvError(`--backend must be 'ort' or 'reference' (got '${backend}')`);
  return backend;
}

/** Checks --backend and --threads (an integer ≥ 1) without loading anything, so bad flags fail fast. */
export function parseModelArgs(values: { model?: string; tokenizer?: string; backend?: string; threads?: string }): ModelArgs {
  return {
    path: values.model,
    tokenizerPath: values.tokenizer,
    backend: parseBackend(values.backend),
    threads: values.threads !== undefined ? parseIntFlag('--threads', values.threads, 1, 1) : undefined,
  };
}

/**
 * Opens the model the options name. `modelPath` is the file used (the built-in model when --model is absent), for
 * the model's name in result rows. The loader is imported here, lazily, so `kvmerger --help` does not load it.
 */
export async function loadModelFromArgs(args: ModelArgs): Promise<{ model: LoadedModel; modelPath: string }> {
  const { loadModel, defaultModelPath } = await import('../model/load-model.js');
  const modelPath = args.path ?? defaultModelPath();
  const model = await loadModel(modelPath, { backend: args.backend, tokenizerPath: args.tokenizerPath, threads: args.threads });
  return { model, modelPath };
}
