/**
 * `convertHFFolder(dir, out, type)`: a Hugging Face folder written as GGUF v3 with llama.cpp's metadata keys, tensor
 * names and tokenizer fields (what convert_hf_to_gguf.py writes, see hf-folder.ts and hf-vocab.ts), streaming: each
 * tensor is read, converted and written in turn, so no more than one tensor (as float32 plus its encoding) is in
 * memory at a time. The file is written beside `out` and renamed into place when complete.
 */
import { renameSync, rmSync, statSync } from 'node:fs';
import { KvError } from '../util/errors.js';
import { gguf, writeGGUF, type GGUFTensorInput } from './gguf-writer.js';
import { CONVERT_TYPES, FILE_TYPE, openHFFolder, tensorTypeFor, type ConvertType } from './hf-folder.js';

export interface ConvertResult {
  path: string;
  type: ConvertType;
  architecture: string;
  tensors: number;
  bytes: number;
  /** Tensors per stored type. */
  types: Record<string, number>;
}

/** Converts the folder `dir` to the GGUF `out` with matrices of `type`. */
export function convertHFFolder(dir: string, out: string, type: ConvertType, onTensor?: (name: string, i: number, n: number) => void): ConvertResult {
  if (!(CONVERT_TYPES as readonly string[]).includes(type)) throw new KvError(`--type must be one of ${CONVERT_TYPES.join(', ')} (got '${type}')`);
  const folder = openHFFolder(dir);
  try {
    const config = folder.config;
    if (folder.tokenizerProblem !== undefined) throw new KvError(`${folder.tokenizerProblem} (the GGUF needs its vocabulary)`);
    const metadata = new Map(folder.typedMetadata);
    metadata.set('general.file_type', gguf.u32(FILE_TYPE[type]));
    if (type !== 'f32' && type !== 'f16' && type !== 'bf16') metadata.set('general.quantization_version', gguf.u32(2));
    const names = folder.tensorNames();
    const types: Record<string, number> = {};
    const tensors: GGUFTensorInput[] = names.map((name, i) => {
      const t = tensorTypeFor(name, folder.shapeOf(name), type, config.blockCount, config.tiedEmbeddings);
      types[t] = (types[t] ?? 0) + 1;
      return {
        name,
        dims: folder.dimsOf(name),
        type: t,
        data: () => {
          onTensor?.(name, i, names.length);
          return t === 'F32' ? folder.readF32(name) : folder.encode(name, t);
        },
      };
    });
    const tmp = `${out}.partial`;
    try {
      writeGGUF(tmp, { metadata, tensors });
      renameSync(tmp, out);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return { path: out, type, architecture: config.architecture, tensors: names.length, bytes: statSync(out).size, types };
  } finally {
    folder.close();
  }
}
