import { loadModel, type LoadedModel, type LoadModelOptions } from '../model/load-model.js';
import type { ChatMessage } from './chat-template.js';
import { checkCompression, type Compression } from './compression.js';
import { generate, type GenerateOptions, type GenerateResult } from './session.js';
import { KvError } from '../util/errors.js';

export interface PipelineOptions extends LoadModelOptions {
  /** Compress every call's KV cache this way (a call's own `compression` replaces it; `null` there turns it off). */
  compression?: Compression;
}

/** Per-call options: generate()'s (the prompt is the pipeline's input), with `compression: null` for the full cache. */
export interface TextGenerationOptions extends Omit<GenerateOptions, 'prompt' | 'promptTokens' | 'chat' | 'compression'> {
  /** This call's compression instead of the pipeline's; `null`: the full cache. */
  compression?: Compression | null;
  /** Text input: return the prompt followed by the completion (default true, as transformers.js); false: the completion only. */
  returnFullText?: boolean;
}

export interface TextGenerationOutput {
  /** The prompt and the completion (a string input), or the chat with the assistant's reply appended (messages). */
  generated_text: string | ChatMessage[];
  /** Everything generate() returned: tokens, stop reason, timings, cache size, the compression report. */
  details: GenerateResult;
}

/** A loaded model as a function, as transformers.js' text-generation pipeline. */
export interface TextGenerationPipeline {
  (input: string | ChatMessage[], options?: TextGenerationOptions): Promise<TextGenerationOutput[]>;
  readonly task: 'text-generation';
  readonly model: LoadedModel;
  /** Release the model (only one the pipeline loaded itself; a model passed in stays open). */
  dispose(): Promise<void>;
}

/**
 * `pipeline('text-generation', model?, options?)`: load a model (a GGUF file, llama2.c checkpoint or Hugging Face
 * folder; undefined: the built-in model; or an already loaded model) and return it as a function of a prompt or a chat.
 *
 *   const generator = await pipeline('text-generation', undefined, { compression: { method: 'kvmerger', budget: 0.35 } });
 *   const [out] = await generator('Once upon a time', { maxTokens: 32 });
 */
export async function pipeline(task: 'text-generation', model?: string | LoadedModel, options: PipelineOptions = {}): Promise<TextGenerationPipeline> {
  if (task !== 'text-generation') throw new KvError(`pipeline: unknown task '${String(task)}'; the one task is 'text-generation'`);
  const { compression: defaultCompression, ...loadOptions } = options;
  // Validate the compression before the model loads (an unknown method or option fails fast).
  if (defaultCompression) checkCompression(defaultCompression);
  const owned = typeof model !== 'object';
  const loaded = typeof model === 'object' ? model : await loadModel(model, loadOptions);
  const run = async (input: string | ChatMessage[], callOptions: TextGenerationOptions = {}): Promise<TextGenerationOutput[]> => {
    const { compression: own, returnFullText = true, ...rest } = callOptions;
    const compression = own === null ? undefined : (own ?? defaultCompression);
    const chat = typeof input !== 'string';
    const details = await generate(loaded, {
      ...rest,
      ...(chat ? { chat: input } : { prompt: input }),
      ...(compression ? { compression } : {}),
    });
    const generated_text: string | ChatMessage[] = chat
      ? [...input, { role: 'assistant', content: details.text }]
      : returnFullText
        ? input + details.text
        : details.text;
    return [{ generated_text, details }];
  };
  return Object.assign(run, {
    task: 'text-generation' as const,
    model: loaded,
    dispose: async () => {
      if (owned) await loaded.close();
    },
  });
}
