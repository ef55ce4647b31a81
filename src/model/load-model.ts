import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openModelFile } from '../formats/open-model-file.js';
import { loadTokenizer } from '../tokenizer/load-tokenizer.js';
import { checkTensorShapes } from './tensor-shapes.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { KvError } from '../util/errors.js';
import type { ForwardBackend } from './backend.js';
import type { ModelConfig } from '../core/model-config.js';
import { ReferenceBackend } from './reference-backend.js';
import type { WeightSource } from '../core/weight-source.js';
import type { ComputePrecision } from './ort/linear-layers.js';
import type { KvType } from '../cache/head-cache.js';
import type { LoadQuantType } from '../formats/hf-folder.js';

export type BackendName = 'ort' | 'reference';

/**
 * ort/linear-layers' ComputePrecision, spelled out here so that the public types need nothing of onnx
 * (test/library/consumer.test.ts compiles a user's project against them); the two must stay the same.
 */
export type Precision = 'int8' | 'fp32';
const samePrecision: [ComputePrecision, Precision] extends [Precision, ComputePrecision] ? true : never = true;
void samePrecision;

export interface LoadModelOptions {
  /** A tokenizer file to use instead of the model's own vocabulary (needed for llama2.c checkpoints). */
  tokenizerPath?: string;
  /** 'ort' (default): onnxruntime, fast; 'reference': plain TypeScript, exact and slow. */
  backend?: BackendName;
  /** onnxruntime intra-op threads (ort only). */
  threads?: number;
  /**
   * Arithmetic of the products with quantised weights (ort only): 'int8' (default; activations quantised per block,
   * as llama.cpp does) or 'fp32'. F32/F16 weights always compute in float32.
   */
  precision?: Precision;
  /** How the KV cache stores keys and values: 'f16' (default, as llama.cpp) or 'f32'. */
  kvType?: KvType;
  /** A Hugging Face folder's matrices quantised as they are read (q8_0, q4_0 or llama.cpp's q4_k_m mix). */
  quantize?: LoadQuantType;
}

export interface LoadedModel {
  /** The model file that was opened. */
  readonly path: string;
  readonly config: ModelConfig;
  readonly weights: WeightSource;
  readonly tokenizer: Tokenizer;
  readonly backend: ForwardBackend;
  /** GGUF `tokenizer.chat_template`, when the file has one. */
  readonly chatTemplate?: string;
  /** Release the backend and the file. */
  close(): Promise<void>;
}

/** The models/ folder of the installed package (…/src/model or …/dist/src/model → package root). */
function packageModelsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'models');
    dir = dirname(dir);
  }
  return resolve('models');
}

/** The built-in model (the one .gguf file in the package's models/ folder), or a KvError saying it is missing. */
export function defaultModelPath(): string {
  const dir = packageModelsDir();
  const found = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.gguf')).sort() : [];
  if (found.length === 0) throw new KvError(`no --model given and the built-in model is missing (no .gguf in ${dir}); pass --model FILE`);
  return join(dir, found[0]!);
}

/**
 * Open a model file (GGUF, llama2.c checkpoint or Hugging Face folder), its tokenizer (the file's own vocabulary, a
 * folder's tokenizer.json, or `tokenizerPath`), and a forward backend over its weights. `modelPath` undefined: the built-in model.
 */
export async function loadModel(modelPath: string | undefined, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const path = modelPath ?? defaultModelPath();
  if (!existsSync(path)) throw new KvError(`--model ${path}: no such file; check the path`);
  const file = openModelFile(path, options.quantize !== undefined ? { quantize: options.quantize } : {});
  const closeFile = () => file.close();
  try {
    const config = file.config;
    if (file.tensorNames().length === 0) {
      throw new KvError(`--model ${path}: the file has no weights (a vocabulary-only GGUF); it works with 'kvmerger tokenize' and 'info'; pass a model with weights to run it`);
    }
    checkTensorShapes(file, config, `--model ${path}`);
    let tokenizer: Tokenizer;
    if (options.tokenizerPath !== undefined) {
      if (!existsSync(options.tokenizerPath)) throw new KvError(`--tokenizer ${options.tokenizerPath}: no such file; check the path`);
      // llama2.c's run.c reads exactly vocab_size tokens from a tokenizer.bin; fewer is a truncated or foreign file.
      tokenizer = loadTokenizer(options.tokenizerPath, file.format === 'llama2c' ? { vocabSize: config.vocabSize } : {});
    } else {
      try {
        // A Hugging Face folder's vocabulary is its tokenizer.json or tokenizer.model (loadTokenizer reads the folder).
        tokenizer = loadTokenizer(path);
      } catch (err) {
        throw new KvError(
          `--model ${path}: the file has no vocabulary of its own (${(err as Error).message}); pass --tokenizer FILE (for a llama2.c checkpoint, its tokenizer.bin)`,
        );
      }
    }
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new KvError(
        `the tokenizer has ${tokenizer.vocabSize} tokens but the model ${path} only ${config.vocabSize}; pass the tokenizer that belongs to this model`,
      );
    }
    const backendName = options.backend ?? 'ort';
    let backend: ForwardBackend;
    const kvType = options.kvType ?? 'f16';
    if (backendName === 'reference') backend = new ReferenceBackend(file, { kvType });
    else if (backendName === 'ort') {
      // Loaded lazily so that the reference path never loads onnxruntime.
      const { createOrtBackend } = await import('./ort-backend.js');
      const { checkLoadMemory, fastPathWeightBytes } = await import('./ort/load-memory.js');
      const { modelFileIdentity, onnxCacheRoot } = await import('./ort/onnx-cache.js');
      // a Hugging Face folder without --quantize holds every weight as F32: say how to hold it quantised
      const unquantised = file.format === 'hf' && options.quantize === undefined ? ' (a Hugging Face folder, held as F32; --quantize q8_0 or q4_k_m holds it quantised)' : '';
      checkLoadMemory(`--model ${path}${unquantised}`, fastPathWeightBytes(file, file.tensorNames(), options.precision ?? 'int8'), onnxCacheRoot() === undefined ? 'memory' : 'cached');
      backend = await createOrtBackend(file, {
        cacheIdentity: modelFileIdentity(path, `quantize ${options.quantize ?? 'none'}`),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.precision !== undefined ? { precision: options.precision } : {}),
        kvType,
      });
    } else throw new KvError(`--backend must be 'ort' or 'reference' (got '${String(backendName)}')`);
    const template = file.metadata?.get('tokenizer.chat_template');
    return {
      path,
      config,
      weights: file,
      tokenizer,
      backend,
      ...(typeof template === 'string' ? { chatTemplate: template } : {}),
      close: async () => {
        await backend.dispose();
        closeFile();
      },
    };
  } catch (err) {
    closeFile();
    throw err;
  }
}
