/**
 * A model's chat template as the laboratory applies it: one user message, the assistant's turn opened, rendered with
 * the model's BOS/EOS text (`applyChatTemplate`, @huggingface/jinja). LongBench's pred.py does the same for chat
 * models (after its middle truncation). The runner prepends BOS itself when the vocabulary adds one, so a BOS that
 * the template prints at the start is dropped here instead of appearing twice.
 */
import { applyChatTemplate } from '../../generate/chat-template.js';
import type { Tokenizer } from '../../tokenizer/tokenizer.js';
import { KvError } from '../../util/errors.js';
import type { ChatFormat, EvalTokenizer } from './task.js';

/** `--chat-template`: apply the model's template when it has one, or never. */
export type ChatTemplateMode = 'auto' | 'none';

export const CHAT_TEMPLATE_MODES: readonly ChatTemplateMode[] = ['auto', 'none'];

export function modelChatFormat(template: string, tokenizer: Pick<Tokenizer, 'bos' | 'eos' | 'addBos' | 'tokenToPiece'>): ChatFormat {
  const piece = (id: number | undefined): string => (id === undefined ? '' : tokenizer.tokenToPiece(id));
  const bosText = piece(tokenizer.bos);
  const eosText = piece(tokenizer.eos);
  const runnerAddsBos = tokenizer.addBos && tokenizer.bos !== undefined;
  return {
    render(content: string): string {
      let text: string;
      try {
        text = applyChatTemplate(template, [{ role: 'user', content }], { bosToken: bosText, eosToken: eosText, addGenerationPrompt: true });
      } catch (err) {
        // applyChatTemplate's fix names generate's --chat; here the switch is eval's --chat-template.
        throw new KvError(`${(err as Error).message.replace(/; run without --chat$/, '')}; pass --chat-template none to run without it`);
      }
      return runnerAddsBos && bosText !== '' && text.startsWith(bosText) ? text.slice(bosText.length) : text;
    },
  };
}

/** Token ids of rendered chat text: no special tokens added, special-token text (the template's markers) parsed. */
export function encodeChat(tokenizer: EvalTokenizer, text: string): number[] {
  return tokenizer.encode(text, { addSpecial: false, parseSpecial: true });
}
