import { Environment, Interpreter, Template } from '@huggingface/jinja';
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
  /**
   * More template variables, as apply_chat_template's extra keyword arguments: e.g. `{ enable_thinking: false }`
   * (Qwen3: an empty <think></think> block opens the reply) or `{ date_string: '26 Jul 2024' }` (Llama 3.x).
   */
  context?: Record<string, unknown>;
  /** The clock strftime_now() reads (tests); default: now. */
  now?: () => Date;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Python's datetime.strftime for the directives chat templates use (local time, C locale). */
export function strftime(format: string, d: Date): string {
  return format.replace(/%([a-zA-Z%])/g, (all, c: string) => {
    switch (c) {
      case 'd': return pad(d.getDate());
      case 'e': return String(d.getDate()).padStart(2, ' ');
      case 'm': return pad(d.getMonth() + 1);
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'b': return MONTHS[d.getMonth()]!.slice(0, 3);
      case 'B': return MONTHS[d.getMonth()]!;
      case 'a': return DAYS[d.getDay()]!.slice(0, 3);
      case 'A': return DAYS[d.getDay()]!;
      case 'H': return pad(d.getHours());
      case 'I': return pad(d.getHours() % 12 === 0 ? 12 : d.getHours() % 12);
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'j': return pad(Math.floor((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86400000) + 1, 3);
      case '%': return '%';
      default: return all;
    }
  });
}

/** Python's range(). */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() step must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/** What a template's raise_exception() throws: its message is the template's own. */
class TemplateRaised extends Error {}

/**
 * Render a chat (a GGUF `tokenizer.chat_template`, Jinja as in Hugging Face transformers: trim_blocks and
 * lstrip_blocks, `raise_exception` and `strftime_now` defined) to the prompt text.
 * A template that fails to parse or render is a KvError naming the problem.
 */
export function applyChatTemplate(template: string, messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
  let t: Template;
  try {
    t = new Template(template);
  } catch (err) {
    throw new KvError(`the model's chat template (tokenizer.chat_template) does not parse: ${(err as Error).message}; run without --chat`);
  }
  const now = options.now ?? (() => new Date());
  try {
    // Template.render's environment, with our raise_exception (its message kept apart from render errors) and
    // strftime_now (Python's directives, not the locale's month names).
    const env = new Environment();
    const globals: Record<string, unknown> = {
      true: true,
      false: false,
      none: null,
      True: true,
      False: false,
      None: null,
      range,
      raise_exception: (message?: unknown) => {
        throw new TemplateRaised(String(message ?? 'raise_exception() called'));
      },
      strftime_now: (format: unknown) => strftime(String(format), now()),
    };
    const items: Record<string, unknown> = {
      ...globals,
      ...options.context,
      messages,
      bos_token: options.bosToken ?? '',
      eos_token: options.eosToken ?? '',
      add_generation_prompt: options.addGenerationPrompt ?? true,
    };
    for (const [k, v] of Object.entries(items)) env.set(k, v);
    return String(new Interpreter(env).run(t.parsed).value);
  } catch (err) {
    if (err instanceof TemplateRaised) throw new KvError(`the model's chat template refuses this conversation: ${err.message}`);
    throw new KvError(`the model's chat template (tokenizer.chat_template) failed to render: ${(err as Error).message}; run without --chat`);
  }
}
