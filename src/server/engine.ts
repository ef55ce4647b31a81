/**
 * Between a checked request and the session: the prompt's tokens (messages through the model's chat template, or a
 * plain fallback template when the model file has none), the sampler's settings with the server's defaults, the
 * compression of the request's `kv_compression` (or the server's default), and the `kv_cache` summary of the
 * result. Shared by `kvmerger serve` and `kvmerger chat`; no numeric work happens here.
 */
import { tokenPiece } from '../generate/logprobs.js';
import { randomInt } from 'node:crypto';
import { generate, tokenizePrompt, type GenerateOptions } from '../generate/session.js';
import type { SessionModel } from '../generate/session-model.js';
import type { StopReason } from '../generate/stop-reason.js';
import { checkCompression, type Compression } from '../generate/compression.js';
import type { TokenLogprobs } from '../generate/logprobs.js';
import type { SamplerOptions } from '../generate/sampler.js';
import { KvError } from '../util/errors.js';
import { ApiError } from './errors.js';
import type { CompressionSpec, JobRequest } from './request.js';

/**
 * The chat template used when the model file has no `tokenizer.chat_template` (the built-in model has none): plain
 * "User: / Assistant:" turns, which a model trained on books continues as dialogue. Generation also stops at
 * FALLBACK_STOP, the start of the next user turn.
 */
export const FALLBACK_CHAT_TEMPLATE =
  "{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n\n{% elif m.role == 'user' %}User: {{ m.content }}\n{% else %}Assistant: {{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Assistant:{% endif %}";
export const FALLBACK_STOP = ['\nUser:'];

/** A loaded model as the server holds it. */
export interface EngineModel extends SessionModel {
  /** The name clients pass as `model` (the file's name without .gguf). */
  readonly id: string;
}

/** What a request does not say: the server's command-line defaults. */
export interface JobDefaults {
  maxTokens: number;
  sampling: Required<Pick<SamplerOptions, 'temperature' | 'topK' | 'topP' | 'minP' | 'repeatPenalty'>>;
  /** --method/--budget; null: no compression. */
  compression: CompressionSpec | null;
  chunkSize?: number;
}

export const DEFAULT_SAMPLING: JobDefaults['sampling'] = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0, repeatPenalty: 1 };

/** The per-layer view of what compression kept (summed over KV heads). */
export interface LayerSlots {
  slots_full: number;
  slots_kept: number;
}

/** The response's `kv_cache` object. */
export interface KvCacheSummary {
  method: string;
  /** The share asked for (1 without compression). */
  budget: number;
  /** The share kept, counted on the cache. */
  budget_achieved: number;
  /** KV slots (summed over layers and KV heads) the prompt's full cache holds, and those kept after compression. */
  slots_full: number;
  slots_kept: number;
  bytes_full: number;
  bytes_kept: number;
  /** The cache at the end of generation (kept prompt slots plus the generated tokens'). */
  slots_final: number;
  bytes_final: number;
  compress_ms: number;
  during_prefill?: boolean;
  layers: LayerSlots[];
}

export interface PreparedJob {
  promptTokens: number[];
  options: GenerateOptions;
  seed: number;
  compression: CompressionSpec | null;
  /** The reply's leading spaces are dropped (the fallback template ends its prompt with "Assistant:"). */
  trimStart: boolean;
}

export type FinishReason = 'stop' | 'length';

export interface JobOutcome {
  text: string;
  promptTokens: number;
  completionTokens: number;
  finishReason: FinishReason;
  stopReason: StopReason;
  aborted: boolean;
  kv: KvCacheSummary;
  timings: { prefillMs: number; decodeMs: number; decodeTokensPerSecond: number; prefillTokensPerSecond: number };
}

/** The model's own chat template, or the fallback. */
export function chatTemplateOf(model: SessionModel): { template: string; fallback: boolean } {
  return model.chatTemplate ? { template: model.chatTemplate, fallback: false } : { template: FALLBACK_CHAT_TEMPLATE, fallback: true };
}

/** A KvError from the library, as a 400 naming `param`. */
function asBadRequest(err: unknown, param: string | null, prefix = ''): never {
  if (err instanceof KvError) throw new ApiError(400, `${prefix}${err.message}`, 'invalid_request_error', param, 'invalid_value');
  throw err;
}

/**
 * Everything checked before the request waits for a slot: the prompt's tokens against the context, the sampler's
 * settings, the compression method, options and budget for this prompt. 400 ApiErrors on bad input.
 */
export function prepareJob(model: SessionModel, req: JobRequest, defaults: JobDefaults): PreparedJob {
  const ctx = model.config.contextLength;
  let promptTokens: number[];
  let trimStart = false;
  const stop = [...req.stop];
  const promptParam = req.kind === 'chat' ? 'messages' : 'prompt';
  try {
    if (req.kind === 'chat') {
      const { template, fallback } = chatTemplateOf(model);
      promptTokens = tokenizePrompt({ ...model, chatTemplate: template }, { chat: req.messages!, prompt: '' });
      if (fallback) {
        stop.push(...FALLBACK_STOP.filter((s) => !stop.includes(s)));
        trimStart = true;
      }
    } else if (Array.isArray(req.prompt)) {
      promptTokens = req.prompt.length === 0 ? tokenizePrompt(model, { prompt: '' }) : tokenizePrompt(model, { promptTokens: req.prompt });
    } else promptTokens = tokenizePrompt(model, { prompt: req.prompt ?? '' });
  } catch (err) {
    asBadRequest(err, promptParam);
  }
  if (promptTokens.length >= ctx) {
    throw new ApiError(
      400,
      `the prompt has ${promptTokens.length} tokens but the model's context is ${ctx} tokens (and the reply needs room too); shorten the ${promptParam}`,
      'invalid_request_error',
      promptParam,
      'context_length_exceeded',
    );
  }
  const seed = req.seed ?? randomInt(0, 2 ** 32 - 1);
  const sampling: SamplerOptions = { ...defaults.sampling, ...req.sampling, seed };
  // never more than the context leaves: the session reserves cache room for maxTokens
  const maxTokens = Math.min(req.maxTokens ?? defaults.maxTokens, ctx - promptTokens.length);
  const compression = req.compression === undefined ? defaults.compression : req.compression;
  const options: GenerateOptions = {
    promptTokens,
    maxTokens,
    sampling,
    stop,
    ...(defaults.chunkSize !== undefined ? { chunkSize: defaults.chunkSize } : {}),
    ...(req.logprobs !== undefined ? { logprobs: req.logprobs } : {}),
  };
  // The method, its options and the budget are checked against this prompt now, so a bad one is a 400 before the
  // request queues.
  const sessionCompression: Compression = {
    method: compression?.method ?? 'full',
    ...(compression?.options !== undefined ? { options: compression.options as Record<string, string | number> } : {}),
    ...(compression?.budget !== undefined ? { budget: compression.budget } : {}),
    seed,
    duringPrefill: compression?.duringPrefill ?? false,
  };
  try {
    checkCompression(sessionCompression, promptTokens.length);
  } catch (err) {
    asBadRequest(err, 'kv_compression', 'kv_compression: ');
  }
  options.compression = sessionCompression;
  return { promptTokens, options, seed, compression, trimStart };
}

/** Streams of one run: text pieces, tokens (with logprobs when asked), the abort signal, the turn-taking hook. */
export interface JobIO {
  signal?: AbortSignal;
  onText?: (text: string) => void;
  onToken?: (id: number, logprobs?: TokenLogprobs) => void;
  beforeStep?: () => void | Promise<void>;
}

/** Runs a prepared job. KvErrors from the session become 400s; an abort before the first token rethrows its reason. */
export async function runJob(model: SessionModel, job: PreparedJob, io: JobIO = {}): Promise<JobOutcome> {
  let r;
  let leading = job.trimStart;
  const onText = io.onText;
  const text = (s: string) => {
    if (leading) {
      s = s.replace(/^[ \t]+/, '');
      if (s === '') return;
      leading = false;
    }
    onText!(s);
  };
  try {
    r = await generate(model, {
      ...job.options,
      ...(io.signal ? { signal: io.signal } : {}),
      ...(onText ? { onText: text } : {}),
      ...(io.onToken ? { onToken: io.onToken } : {}),
      ...(io.beforeStep ? { beforeStep: io.beforeStep } : {}),
    });
  } catch (err) {
    asBadRequest(err, null);
  }
  const c = model.config;
  const T = r.promptTokens.length;
  const perHead = T * c.headCountKv;
  const rep = r.compression;
  const slotsFull = perHead * c.blockCount;
  const kept = rep?.slotsPerLayer ?? Array.from({ length: c.blockCount }, () => perHead);
  const kv: KvCacheSummary = {
    method: job.compression?.method ?? 'none',
    budget: rep && job.compression ? rep.budgetRequested : 1,
    budget_achieved: rep ? rep.budgetAchieved : 1,
    slots_full: slotsFull,
    slots_kept: kept.reduce((a, b) => a + b, 0),
    bytes_full: rep?.bytesFull ?? 0,
    bytes_kept: rep?.bytesKept ?? 0,
    slots_final: r.cache.slots,
    bytes_final: r.cache.bytes,
    compress_ms: Math.round((rep?.compressMs ?? 0) * 1000) / 1000,
    ...(job.compression?.duringPrefill ? { during_prefill: true } : {}),
    layers: kept.map((k) => ({ slots_full: perHead, slots_kept: k })),
  };
  return {
    text: job.trimStart ? r.text.replace(/^[ \t]+/, '') : r.text,
    promptTokens: T,
    completionTokens: r.tokens.length,
    finishReason: r.stopReason === 'eos' || r.stopReason === 'stop' ? 'stop' : 'length',
    stopReason: r.stopReason,
    aborted: r.aborted === true,
    kv,
    timings: {
      prefillMs: r.timings.prefillMs,
      decodeMs: r.timings.decodeMs,
      decodeTokensPerSecond: r.timings.decodeTokensPerSecond,
      prefillTokensPerSecond: r.timings.prefillTokensPerSecond,
    },
  };
}

/** A token's text and bytes for the logprobs objects. */
export function tokenText(model: SessionModel, id: number): { token: string; bytes: number[] } {
  return tokenPiece(model.tokenizer, id);
}
