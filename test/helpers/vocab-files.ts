/**
 * llama.cpp's vocabulary files (models/ggml-vocab-*.gguf with their .inp/.out test vectors): from
 * ../shared/data/tokenizer-tests, else from the llama.cpp source that scripts/build-llama-cpp.sh checks out of
 * node-llama-cpp's bundle (<llama.cpp dir>/src/models), which has the vocabularies the shared folder lacks
 * (qwen2, qwen35, llama-bpe, command-r, gemma-4).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { llamaCppDir } from '../../src/bench/native-llama-cpp.js';
import { openGGUF } from '../../src/formats/gguf-reader.js';
import { tokenizerFromGGUFMetadata } from '../../src/tokenizer/gguf-tokenizer.js';
import type { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { sharedData } from './shared-data.js';

/** The folders searched, in order (those that exist). */
export function vocabDirs(): string[] {
  const dirs = [sharedData('tokenizer-tests'), (() => {
    const d = llamaCppDir();
    return d ? join(d, 'src', 'models') : undefined;
  })()];
  return dirs.filter((d): d is string => d !== undefined && existsSync(d));
}

/** Path of `ggml-vocab-<name>.gguf<suffix>` in the first folder that has it, or undefined. */
export function vocabFile(name: string, suffix = ''): string | undefined {
  for (const d of vocabDirs()) {
    const p = join(d, `ggml-vocab-${name}.gguf${suffix}`);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function loadVocab(path: string): Tokenizer {
  const g = openGGUF(path);
  try {
    return tokenizerFromGGUFMetadata(g.metadata as Map<string, unknown>, path);
  } finally {
    g.close();
  }
}
