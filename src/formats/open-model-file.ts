/**
 * Opens a model by content: a Hugging Face folder (src/formats/hf-folder.ts), GGUF (magic "GGUF") or a llama2.c checkpoint (a 7-int32 header whose implied size
 * matches the file). Anything else is a KvError naming the file.
 */
import { closeSync, existsSync, readSync, statSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import type { ModelConfig } from '../core/model-config.js';
import { isHFFolder, openHFFolder, type HFFolderOptions } from './hf-folder.js';
import { openGGUF, type GGUFFile, type GGUFTensorInfo } from './gguf-reader.js';
import type { GGUFValue } from './gguf-types.js';
import { LLAMA2C_HEADER_BYTES, llama2cTotalBytes, openLlama2cCheckpoint, parseLlama2cHeader } from './llama2c-checkpoint.js';
import { describeModel, type TensorDirectory } from './model-description.js';
import type { ModelFile } from './model-file.js';
import { openReadableFile } from './open-readable-file.js';

export type { ModelFile, ModelFileFormat } from './model-file.js';

class GGUFModelFile implements ModelFile {
  readonly format = 'gguf' as const;
  private readonly cache = new Map<string, Float32Array>();
  private cfg: ModelConfig | undefined;
  private cfgError: KvError | undefined;

  constructor(readonly gguf: GGUFFile) {
    // Weights read for a model are checked for NaN / Inf as their bytes come in (the tensor is named).
    gguf.checkFinite = true;
    const dir: TensorDirectory = {
      has: (n) => gguf.tensor(n) !== undefined,
      dims: (n) => gguf.tensor(n)?.dims,
      count: gguf.tensors.length,
    };
    try {
      this.cfg = describeModel(gguf.metadata, dir, gguf.path);
    } catch (err) {
      if (!(err instanceof KvError)) throw err;
      this.cfgError = err;
    }
  }

  get path(): string {
    return this.gguf.path;
  }
  get fileSize(): number {
    return this.gguf.fileSize;
  }
  get metadata(): Map<string, GGUFValue> {
    return this.gguf.metadata;
  }
  get config(): ModelConfig {
    if (this.cfgError) throw this.cfgError;
    return this.cfg!;
  }
  get configError(): string | undefined {
    return this.cfgError?.message;
  }

  private info(name: string): GGUFTensorInfo {
    const t = this.gguf.tensor(name);
    if (!t) throw new KvError(`${this.path}: no tensor named '${name}'`);
    return t;
  }
  has(name: string): boolean {
    return this.gguf.tensor(name) !== undefined;
  }
  typeOf(name: string): string {
    return this.info(name).typeName;
  }
  shapeOf(name: string): number[] {
    return [...this.info(name).dims].reverse();
  }
  byteSizeOf(name: string): number {
    return this.info(name).byteSize;
  }
  get(name: string): Float32Array {
    let v = this.cache.get(name);
    if (!v) {
      v = this.gguf.readTensorF32(name);
      this.cache.set(name, v);
    }
    return v;
  }
  readInto(name: string, dest: Float32Array): void {
    const hit = this.cache.get(name);
    if (hit) dest.set(hit);
    else this.gguf.readTensorF32Into(name, dest);
  }
  readBytes(name: string): Uint8Array {
    return this.gguf.readTensorBytes(name);
  }
  tensorNames(): string[] {
    return this.gguf.tensors.map((t) => t.name);
  }
  parameterCount(): number {
    return this.gguf.tensors.reduce((a, t) => a + t.elements, 0);
  }
  dropCache(): void {
    this.cache.clear();
  }
  close(): void {
    this.cache.clear();
    this.gguf.close();
  }
}

/**
 * Opens a GGUF file, a llama2.c checkpoint or a Hugging Face folder (a directory with config.json; `options.quantize`
 * quantises its matrices as they are read). The caller must `close()` it.
 */
export function openModelFile(path: string, options: HFFolderOptions = {}): ModelFile {
  if (isHFFolder(path)) return openHFFolder(path, options);
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw new KvError(`${path}: is a directory without config.json; pass a GGUF file, a llama2.c checkpoint or a Hugging Face model folder`);
  }
  if (options.quantize !== undefined) {
    throw new KvError(`--quantize ${options.quantize}: quantising at load applies to Hugging Face folders; ${path} is a file, stored in its own types (make another with 'kvmerger convert' or llama-quantize)`);
  }
  const { fd, size } = openReadableFile(path);
  let head: Uint8Array;
  try {
    head = new Uint8Array(Math.min(LLAMA2C_HEADER_BYTES, size));
    if (head.length > 0) readSync(fd, head, 0, head.length, 0);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (head.length >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) {
    closeSync(fd);
    return new GGUFModelFile(openGGUF(path));
  }
  const h = parseLlama2cHeader(head);
  if (h) {
    const need = llama2cTotalBytes(h);
    if (need === size) return openLlama2cCheckpoint(path, fd);
    closeSync(fd);
    throw new KvError(
      `${path} is neither GGUF nor a llama2.c checkpoint (read as a llama2.c header it needs ${need} bytes but the file has ${size}; if it is a checkpoint, the download may be incomplete)`,
    );
  }
  closeSync(fd);
  throw new KvError(`${path} is neither GGUF nor a llama2.c checkpoint; kvmerger reads .gguf files and llama2.c .bin checkpoints`);
}
