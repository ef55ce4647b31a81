/**
 * A model file opened for reading (GGUF, llama2.c checkpoint or Hugging Face folder): a WeightSource over its tensors, plus what `info`
 * shows about the file. Open one with `openModelFile` (open-model-file.ts).
 */
import type { ModelConfig } from '../core/model-config.js';
import type { WeightSource } from '../core/weight-source.js';
import type { GGUFFile } from './gguf-reader.js';
import type { GGUFValue } from './gguf-types.js';

/** `hf`: a Hugging Face folder (config.json + safetensors), presented with GGUF's names and metadata keys. */
export type ModelFileFormat = 'gguf' | 'llama2c' | 'hf';

export interface ModelFile extends WeightSource {
  readonly format: ModelFileFormat;
  readonly path: string;
  readonly fileSize: number;
  /**
   * The model's shape. Throws a KvError when the file describes a model kvmerger cannot run (unsupported
   * architecture or RoPE scaling, missing keys); `configError` says so without throwing.
   */
  readonly config: ModelConfig;
  /** Why `config` would throw, or undefined when it is valid. */
  readonly configError: string | undefined;
  /** GGUF metadata (undefined for llama2.c checkpoints; a Hugging Face folder's as its conversion would write it). */
  readonly metadata: Map<string, GGUFValue> | undefined;
  /** The underlying GGUF reader (GGUF files only). */
  readonly gguf: GGUFFile | undefined;
  /** Tensor names in file order. */
  tensorNames(): string[];
  /** Total number of weights (elements of every tensor). */
  parameterCount(): number;
  /** Stored bytes of a tensor. */
  byteSizeOf(name: string): number;
  /** Forgets the dequantised tensors `get` has cached (the backend holds its own copies). */
  dropCache(): void;
  close(): void;
}
