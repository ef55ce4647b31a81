import type { KVCache } from '../cache/kv-cache.js';
import type { CompressionReport } from '../compress/compress-cache.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { KvError } from '../util/errors.js';
import { applyChatTemplate, type ChatMessage } from './chat-template.js';
import { Sampler, type SamplerOptions } from './sampler.js';
import { chunkedPrefill } from './chunked-prefill.js';
import { decodeLoop } from './decode-loop.js';
import { prepareSessionCompression, type Compression } from './compression.js';
import type { TokenLogprobs } from './logprobs.js';
import type { SessionModel } from './session-model.js';
import type { StopReason } from './stop-reason.js';
import { dropOutsideWindow, globalLayerIndices, layersView, selectStatsLayers } from '../cache/sliding-window.js';

export type TruncateMode = 'none' | 'start' | 'middle';

export interface GenerateOptions {
  /** Prompt text (tokenised with BOS as the vocabulary says). Empty or absent: BOS only. */
  prompt?: string;
  /** Prompt token ids, used as they are instead of `prompt`. */
  promptTokens?: ArrayLike<number>;
  /** Wrap the prompt as one user turn in the model's chat template (or pass the whole chat). */
  chat?: boolean | ChatMessage[];
  /**
   * The conversation, rendered with the model's chat template (`tokenizer.chat_template`) and the assistant's turn
   * opened: `generate(model, { messages: [{ role: 'user', content: 'Hi' }] })`. The same as `chat: messages`.
   */
  messages?: ChatMessage[];
  /** More chat-template variables, e.g. `{ enable_thinking: false }` for Qwen3 (apply_chat_template's kwargs). */
  chatTemplateContext?: Record<string, unknown>;
  /** Tokens to generate at most (default 256). */
  maxTokens?: number;
  sampling?: SamplerOptions;
  /** Generation stops before the first occurrence of any of these strings (not included in the text). */
  stop?: string[];
  /** Stop at the vocabulary's end-of-generation tokens (default true). */
  stopAtEos?: boolean;
  /** Prompt tokens per forward call in the prefill (default 512). */
  chunkSize?: number;
  /** What to do with a prompt that does not fit in the context (default 'none': an error). */
  truncate?: TruncateMode;
  /** Streamed text, as soon as it is complete UTF-8 and cannot be part of a stop string. */
  onText?: (text: string) => void;
  /** Each generated token id, as it is sampled (with its log-probabilities when `logprobs` is set). */
  onToken?: (id: number, logprobs?: TokenLogprobs) => void;
  /**
   * Report each generated token's log-probability under the model (log-softmax of the raw logits, before the
   * sampler's penalty, temperature and filters) and this many most likely alternatives (0..20), to `onToken`.
   */
  logprobs?: number;
  /**
   * Stops generation at the next forward pass. Aborted before the first token is sampled (during tokenisation or
   * the prefill), `generate` throws `signal.reason`; later, it returns what was generated with `aborted: true`.
   */
  signal?: AbortSignal;
  /** Awaited before each decode forward pass (a server lets other sessions take their turn there). */
  beforeStep?: () => void | Promise<void>;
  /**
   * Compress the KV cache: after the prefill (or during it), and while decoding where the method's options ask for
   * it, e.g. `{ method: 'kvmerger', budget: 0.35 }` (`kvmerger methods` lists the methods and their options). Checked
   * once the prompt's length is known; absent: the full cache. Models with sliding-window layers: slots a sliding
   * layer can no longer see are dropped after the prefill and, in batches of 64, while decoding, either way.
   */
  compression?: Compression;
}

export interface GenerateResult {
  /** The generated text (without the prompt). */
  text: string;
  promptTokens: number[];
  tokens: number[];
  stopReason: StopReason;
  /** Prompt tokens before truncation, when the prompt was truncated. */
  truncatedFrom?: number;
  /** Present when `signal` stopped the decode loop (stopReason is then 'length'). */
  aborted?: true;
  timings: {
    prefillMs: number;
    compressMs: number;
    decodeMs: number;
    prefillTokensPerSecond: number;
    /** Decode forward passes per second (each pass is one token). */
    decodeTokensPerSecond: number;
  };
  cache: {
    slots: number;
    /** Bytes of keys and values held (4 bytes per value). */
    bytes: number;
    /** Bytes of every cache buffer allocated, including the room reserved for decoding. */
    allocatedBytes: number;
    slotsPerLayer: number[];
  };
  /** What compression did (with `compression`). */
  compression?: CompressionReport;
  /** The cache at the end of generation. */
  kvCache: KVCache;
}

/**
 * One generation: tokenise, check the context, chunked prefill (statistics accumulated for the compression
 * method), compression, then the decode loop (decode-loop.ts) with sampling, stop rules and streaming.
 */
export async function generate(model: SessionModel, options: GenerateOptions = {}): Promise<GenerateResult> {
  const { config, tokenizer } = model;
  const maxTokens = options.maxTokens ?? 256;
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new KvError(`--max-tokens must be an integer ≥ 0 (got ${options.maxTokens})`);
  const chunkSize = options.chunkSize ?? 512;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new KvError(`chunk size must be an integer ≥ 1 (got ${options.chunkSize})`);
  const sampler = new Sampler(options.sampling);
  const topLogprobs = options.logprobs;
  if (topLogprobs !== undefined && (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > 20)) {
    throw new KvError(`logprobs must be an integer in [0, 20] (got ${topLogprobs})`);
  }
  const signal = options.signal;
  signal?.throwIfAborted();

  let prompt = tokenizePrompt(model, options);
  const ctx = config.contextLength;
  let truncatedFrom: number | undefined;
  if (prompt.length >= ctx) {
    const mode = options.truncate ?? 'none';
    if (mode === 'none') {
      throw new KvError(
        `prompt has ${prompt.length} tokens but the model's context is ${ctx}; shorten it or pass --truncate middle|start`,
      );
    }
    truncatedFrom = prompt.length;
    prompt = truncatePrompt(prompt, ctx - Math.min(Math.max(maxTokens, 1), Math.floor(ctx / 2)), mode, tokenizer.bos);
  }
  const T = prompt.length;
  // Decoding appends without reallocating; it stops at the context, so a maxTokens beyond it reserves no more.
  const decodeRoom = Math.min(maxTokens, Math.max(0, ctx - T));

  const compression = options.compression ? prepareSessionCompression(options.compression, T, decodeRoom) : undefined;
  // Sliding-window layers: compression sees the global layers only (unless asked), through a view of the cache.
  const swa = config.slidingWindow;
  const only = swa && options.compression?.slidingLayers !== true ? globalLayerIndices(swa, config.blockCount) : undefined;
  const view = (c: KVCache): KVCache => (only ? layersView(c, only) : c);
  // Prefill, chunk by chunk, with the statistics the compression asks for.
  // Compressing during the prefill: each chunk's statistics go to the compressor, which keeps the cache within budget + chunk.
  const during = compression?.duringPrefill;
  const prefilled = during
    ? await chunkedPrefill(model, prompt, during.stats, 0, chunkSize, (c, s, next) => during.afterChunk(view(c), only ? selectStatsLayers(s, only) : s, next))
    : await chunkedPrefill(model, prompt, compression?.stats, compression ? 0 : decodeRoom, chunkSize);
  const { cache } = prefilled;
  const prefillMs = prefilled.ms;
  if (!prefilled.lastLogits) throw new Error('generate: the prefill of a non-empty prompt returned no logits');

  let compressMs = 0;
  let report: CompressionReport | undefined;
  if (compression) {
    const c0 = performance.now();
    report = compression.compress(view(cache), only ? selectStatsLayers(prefilled.stats, only) : prefilled.stats);
    // During the prefill, compressMs is the part of prefillMs spent compressing (plus the report).
    compressMs = performance.now() - c0 + (during?.ms ?? 0);
  }
  if (swa) dropOutsideWindow(cache, swa);
  cache.reserve(Math.min(maxTokens, Math.max(0, ctx - cache.nextPosition)));

  const decoded = await decodeLoop(model, cache, prefilled.lastLogits, {
    maxTokens,
    sampler,
    history: prompt,
    stopAtEos: options.stopAtEos,
    stop: options.stop,
    stripLeadingSpace: startsDocument(prompt, tokenizer),
    policy: compression?.decodePolicy,
    policyLayers: only,
    slidingWindow: swa,
    onToken: options.onToken,
    logprobs: topLogprobs,
    onText: options.onText,
    beforeStep: options.beforeStep,
    signal,
  });
  const decodeMs = decoded.ms;

  return {
    text: decoded.text,
    promptTokens: prompt,
    tokens: decoded.tokens,
    stopReason: decoded.stopReason,
    ...(truncatedFrom !== undefined ? { truncatedFrom } : {}),
    ...(decoded.aborted ? { aborted: true as const } : {}),
    timings: {
      prefillMs,
      compressMs,
      decodeMs,
      prefillTokensPerSecond: prefillMs > 0 ? (T / prefillMs) * 1000 : 0,
      decodeTokensPerSecond: decodeMs > 0 ? (decoded.forwards / decodeMs) * 1000 : 0,
    },
    cache: {
      slots: cache.slots(),
      bytes: cache.bytes(),
      allocatedBytes: cache.allocatedBytes(),
      slotsPerLayer: cache.slotsPerLayer(),
    },
    ...(report ? { compression: report } : {}),
    kvCache: cache,
  };
}

/** The prompt's token ids as `generate` makes them from `prompt` / `promptTokens` / `chat` / `messages` (before the context check). */
export function tokenizePrompt(
  model: SessionModel,
  options: Pick<GenerateOptions, 'prompt' | 'promptTokens' | 'chat' | 'messages' | 'chatTemplateContext'>,
): number[] {
  const { tokenizer } = model;
  if (options.promptTokens) {
    const ids = Array.from(options.promptTokens);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) {
        throw new KvError(`prompt token id ${id} is outside the model's vocabulary (0..${model.config.vocabSize - 1})`);
      }
    }
    if (ids.length === 0) throw new KvError('the prompt token list is empty; give at least one token');
    return ids;
  }
  const text = options.prompt ?? '';
  const chat = options.messages ?? options.chat;
  if (chat) {
    if (!model.chatTemplate) throw new KvError("--chat: the model file has no chat template (tokenizer.chat_template); run without --chat");
    const messages = Array.isArray(chat) ? chat : [{ role: 'user', content: text }];
    if (messages.length === 0) throw new KvError('the chat has no messages; give at least one');
    return encodeChatPrompt(tokenizer, applyChatTemplate(model.chatTemplate, messages, { ...chatTokenTexts(tokenizer), ...(options.chatTemplateContext ? { context: options.chatTemplateContext } : {}) }));
  }
  const ids = tokenizer.encode(text, { addSpecial: true });
  if (ids.length === 0) {
    if (tokenizer.bos === undefined) throw new KvError('the prompt is empty and the vocabulary has no BOS token to start from; pass --prompt');
    return [tokenizer.bos];
  }
  return ids;
}

/** The texts of BOS and EOS (the template's `bos_token` / `eos_token`), '' where the vocabulary has none. */
export function chatTokenTexts(tokenizer: Tokenizer): { bosToken: string; eosToken: string } {
  const piece = (id: number | undefined) => (id === undefined ? '' : tokenizer.tokenToPiece(id));
  return { bosToken: piece(tokenizer.bos), eosToken: piece(tokenizer.eos) };
}

/**
 * A rendered chat as token ids, as llama.cpp's chat path does it (common_chat_templates_apply, then tokenize with
 * add_special and parse_special): when the vocabulary adds BOS, a BOS the template printed at the start is dropped
 * first, so there is exactly one; when it adds EOS, an EOS printed at the end likewise. The template's markers
 * (`<|im_start|>`, `<start_of_turn>`, ...) are parsed as their special tokens.
 */
export function encodeChatPrompt(tokenizer: Tokenizer, rendered: string): number[] {
  const { bosToken, eosToken } = chatTokenTexts(tokenizer);
  let text = rendered;
  if (tokenizer.addBos && bosToken !== '' && text.startsWith(bosToken)) text = text.slice(bosToken.length);
  if (tokenizer.addEos && eosToken !== '' && text.endsWith(eosToken)) text = text.slice(0, text.length - eosToken.length);
  const ids = tokenizer.encode(text, { addSpecial: true, parseSpecial: true });
  if (ids.length === 0) throw new KvError('--chat: the chat template rendered an empty prompt');
  return ids;
}

/** Whether the generated text begins the document (prompt is only BOS), so an SPM dummy-prefix space is dropped. */
function startsDocument(prompt: number[], tokenizer: Tokenizer): boolean {
  return prompt.every((id) => id === tokenizer.bos);
}

/**
 * Shorten a prompt to `limit` tokens. `start`: drop the oldest tokens; `middle`: keep the first and last halves
 * (LongBench's rule). A leading BOS is kept in both.
 */
export function truncatePrompt(prompt: number[], limit: number, mode: Exclude<TruncateMode, 'none'>, bos?: number): number[] {
  if (prompt.length <= limit) return prompt;
  const keepBos = bos !== undefined && prompt[0] === bos ? 1 : 0;
  const body = prompt.slice(keepBos);
  const room = Math.max(1, limit - keepBos);
  let kept: number[];
  if (mode === 'start') kept = body.slice(body.length - room);
  else {
    const head = Math.floor(room / 2);
    kept = [...body.slice(0, head), ...body.slice(body.length - (room - head))];
  }
  return keepBos ? [prompt[0]!, ...kept] : kept;
}
