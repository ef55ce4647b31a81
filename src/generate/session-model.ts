import type { ForwardBackend } from '../model/backend.js';
import type { ModelConfig } from '../core/model-config.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';

/**
 * What a session, the decode loop and the eval runner need from a loaded model (loadModel's `LoadedModel`
 * satisfies it; tests build one from a random-weight backend).
 */
export interface SessionModel {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly backend: ForwardBackend;
  /** GGUF `tokenizer.chat_template`, when the file has one (chat prompts; the eval's `--chat-template auto`). */
  readonly chatTemplate?: string;
}
