import { Template } from '@huggingface/jinja';
import { KvError } from '../util/errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | string;
  content: string;
}

export interface ChatTemplateOptions {
  /** Text of the BOS / EOS tokens, which many templates print themselves. */
  bosToken?: string;
  eosToken?: string;
  /** Append the opening of the assistant's turn (default true: we are about to generate it). */
  addGenerationPrompt?: boolean;
}

/**
 * Render a chat (a GGUF `tokenizer.chat_template`, Jinja as in Hugging Face transformers) to the prompt text.
 * A template that fails to parse or render is a KvError naming the problem.
 */
export function applyChatTemplate(template: string, messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
  let t: Template;
  try {
    t = new Template(template);
  } catch (err) {
    throw new KvError(`the model's chat template (tokenizer.chat_template) does not parse: ${(err as Error).message}; run without --chat`);
  }
  try {
    return t.render({
      messages,
      bos_token: options.bosToken ?? '',
      eos_token: options.eosToken ?? '',
      add_generation_prompt: options.addGenerationPrompt ?? true,
    });
  } catch (err) {
    throw new KvError(`the model's chat template (tokenizer.chat_template) failed to render: ${(err as Error).message}; run without --chat`);
  }
}
