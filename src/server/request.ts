/**
 * OpenAI request bodies (chat completions, completions) checked field by field and turned into one job request.
 * Every problem is a 400 ApiError whose `param` names the field. Unknown fields are ignored, as llama.cpp's server
 * ignores them; fields that would change the answer and are not implemented are a 400 saying so.
 */
import type { ChatMessage } from '../generate/chat-template.js';
import type { BudgetSpec } from '../compress/index.js';
import { methodNames } from '../compress/registry.js';
import { badParam, unsupported, ApiError } from './errors.js';

/** A request's `kv_compression` (the server's --method/--budget when absent; null or method "none": no compression). */
export interface CompressionSpec {
  method: string;
  budget?: number | BudgetSpec;
  options?: string[] | Record<string, string | number | boolean>;
  duringPrefill: boolean;
}

export interface SamplingFields {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repeatPenalty?: number;
}

export interface JobRequest {
  kind: 'chat' | 'completion';
  model: string | undefined;
  messages?: ChatMessage[];
  /** Completion prompt: text, or token ids. */
  prompt?: string | number[];
  maxTokens?: number;
  sampling: SamplingFields;
  /** Absent: a random seed. */
  seed?: number;
  stop: string[];
  stream: boolean;
  includeUsage: boolean;
  /** How many alternatives per token to report (0..20); absent: no logprobs. */
  logprobs?: number;
  /** undefined: the server's default; null: none. */
  compression?: CompressionSpec | null;
}

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    s = Array.isArray(v) ? '[a list nested too deep to show]' : '(a value too deep to show)';
  }
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  minExclusive?: boolean;
}

/** A numeric field: undefined when absent or null; 400 when it is not a number in range. */
export function numberField(body: Body, key: string, rule: NumberRule, param = key): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const kind = rule.integer ? 'an integer' : 'a number';
  const range =
    rule.min !== undefined && rule.max !== undefined
      ? ` in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}]`
      : rule.min !== undefined
        ? ` ${rule.minExclusive ? '>' : '≥'} ${rule.min}`
        : rule.max !== undefined
          ? ` ≤ ${rule.max}`
          : '';
  if (typeof v !== 'number' || !Number.isFinite(v) || (rule.integer && !Number.isInteger(v))) {
    throw badParam(param, `'${param}' must be ${kind}${range} (got ${show(v)})`, 'invalid_type');
  }
  if ((rule.min !== undefined && (rule.minExclusive ? v <= rule.min : v < rule.min)) || (rule.max !== undefined && v > rule.max)) {
    throw badParam(param, `'${param}' must be ${kind}${range} (got ${v})`);
  }
  return v;
}

function booleanField(body: Body, key: string, param = key): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badParam(param, `'${param}' must be true or false (got ${show(v)})`, 'invalid_type');
  return v;
}

function stringField(body: Body, key: string, param = key): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badParam(param, `'${param}' must be a string (got ${show(v)})`, 'invalid_type');
  return v;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

function messagesField(body: Body): ChatMessage[] {
  const v = body.messages;
  if (v === undefined || v === null) throw badParam('messages', "'messages' is required: a list of {role, content}", 'missing_required_parameter');
  if (!Array.isArray(v) || v.length === 0) throw badParam('messages', `'messages' must be a non-empty list of {role, content} (got ${show(v)})`, 'invalid_type');
  if (v.length > 10_000) throw badParam('messages', `'messages' has ${v.length} entries; at most 10000`);
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) throw badParam(p, `'${p}' must be an object {role, content} (got ${show(m)})`, 'invalid_type');
    const role = m.role;
    if (typeof role !== 'string') throw badParam(`${p}.role`, `'${p}.role' must be a string: system, user or assistant (got ${show(role)})`, 'invalid_type');
    if (!ROLES.has(role)) {
      if (role === 'tool' || role === 'function') throw unsupported(`${p}.role`, `'${p}.role' ${role}: tool messages are not supported yet (this server has no tool calling)`);
      throw badParam(`${p}.role`, `'${p}.role' must be system, developer, user or assistant (got ${show(role)})`);
    }
    return { role: role === 'developer' ? 'system' : role, content: contentText(m.content, `${p}.content`, role === 'assistant') };
  });
}

/** A message's content: a string, or a list of text parts (other parts: 400). */
function contentText(v: unknown, param: string, nullable: boolean): string {
  if (typeof v === 'string') return v;
  if ((v === null || v === undefined) && nullable) return '';
  if (Array.isArray(v)) {
    return v
      .map((part, j) => {
        if (!isObject(part) || typeof part.type !== 'string') throw badParam(`${param}[${j}]`, `'${param}[${j}]' must be a content part {type: "text", text} (got ${show(part)})`, 'invalid_type');
        if (part.type !== 'text') throw unsupported(`${param}[${j}].type`, `content parts of type '${part.type}' are not supported (the model reads text only)`);
        if (typeof part.text !== 'string') throw badParam(`${param}[${j}].text`, `'${param}[${j}].text' must be a string (got ${show(part.text)})`, 'invalid_type');
        return part.text;
      })
      .join('');
  }
  throw badParam(param, `'${param}' must be a string or a list of text parts (got ${show(v)})`, 'invalid_type');
}

function promptField(body: Body): string | number[] {
  const v = body.prompt;
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    if (v.length === 0) return '';
    if (v.every((x) => typeof x === 'number')) {
      v.forEach((x, i) => {
        if (!Number.isInteger(x) || (x as number) < 0) throw badParam(`prompt[${i}]`, `'prompt[${i}]' must be a token id, an integer ≥ 0 (got ${show(x)})`);
      });
      return v as number[];
    }
    if (v.length === 1 && typeof v[0] === 'string') return v[0];
    if (v.every((x) => typeof x === 'string')) throw unsupported('prompt', `'prompt' is a list of ${v.length} prompts; one prompt per request is supported (send them as separate requests)`);
  }
  throw badParam('prompt', `'prompt' must be a string, a list of one string, or a list of token ids (got ${show(v)})`, 'invalid_type');
}

function stopField(body: Body): string[] {
  const v = body.stop;
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw badParam('stop', `'stop' must be a string or a list of strings (got ${show(v)})`, 'invalid_type');
  if (list.length > 16) throw badParam('stop', `'stop' has ${list.length} strings; at most 16`);
  return (list as string[]).filter((s) => s.length > 0);
}

function compressionField(body: Body): CompressionSpec | null | undefined {
  const v = body.kv_compression;
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (!isObject(v)) throw badParam('kv_compression', `'kv_compression' must be an object {method, budget | budget_tokens, options, during_prefill} or null (got ${show(v)})`, 'invalid_type');
  const method = stringField(v, 'method', 'kv_compression.method');
  if (method === undefined) throw badParam('kv_compression.method', "'kv_compression.method' is required (e.g. \"kvmerger\"; GET /v1/models lists the methods)", 'missing_required_parameter');
  if (method === 'none') return null;
  const names = methodNames();
  if (!names.includes(method)) throw badParam('kv_compression.method', `'kv_compression.method' ${show(method)} is not a method; methods: none, ${names.join(', ')}`);
  const ratio = numberField(v, 'budget', { min: 0, max: 1, minExclusive: true }, 'kv_compression.budget');
  const tokens = numberField(v, 'budget_tokens', { integer: true, min: 1 }, 'kv_compression.budget_tokens');
  const per = stringField(v, 'budget_tokens_per', 'kv_compression.budget_tokens_per');
  if (per !== undefined && per !== 'layer' && per !== 'total') throw badParam('kv_compression.budget_tokens_per', `'kv_compression.budget_tokens_per' must be "layer" or "total" (got ${show(per)})`);
  if (per !== undefined && tokens === undefined) throw badParam('kv_compression.budget_tokens_per', "'kv_compression.budget_tokens_per' needs 'budget_tokens'");
  if (ratio !== undefined && tokens !== undefined) throw badParam('kv_compression.budget', "give either 'kv_compression.budget' or 'kv_compression.budget_tokens', not both");
  if (method !== 'full' && ratio === undefined && tokens === undefined) {
    throw badParam('kv_compression.budget', `'kv_compression' method ${method} needs 'budget' (the share of the prompt's KV slots to keep, in (0, 1], e.g. 0.35) or 'budget_tokens'`, 'missing_required_parameter');
  }
  const o = v.options;
  let options: CompressionSpec['options'];
  if (o !== undefined && o !== null) {
    if (Array.isArray(o) && o.every((x) => typeof x === 'string')) options = o as string[];
    else if (isObject(o) && Object.values(o).every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) options = o as Record<string, string | number | boolean>;
    else throw badParam('kv_compression.options', `'kv_compression.options' must be an object of option values ({"sigma": 5}) or a list of "key=value" strings (got ${show(o)})`, 'invalid_type');
  }
  const budget = ratio !== undefined ? ratio : tokens !== undefined ? { tokens, per: (per ?? 'layer') as 'layer' | 'total' } : undefined;
  return {
    method,
    ...(budget !== undefined ? { budget } : {}),
    ...(options !== undefined ? { options } : {}),
    duringPrefill: booleanField(v, 'during_prefill', 'kv_compression.during_prefill') ?? false,
  };
}

/** Checks an OpenAI request body (already parsed JSON) for `kind`. */
export function parseJobRequest(kind: 'chat' | 'completion', raw: unknown): JobRequest {
  if (!isObject(raw)) throw new ApiError(400, `the request body must be a JSON object (got ${show(raw)})`, 'invalid_request_error', null, 'invalid_body');
  const body = raw;
  const model = stringField(body, 'model');
  const n = numberField(body, 'n', { integer: true, min: 1 });
  if (n !== undefined && n !== 1) throw unsupported('n', `'n' ${n}: one choice per request is supported (n must be 1); send ${n} requests instead`);
  const maxTokens = numberField(body, 'max_completion_tokens', { integer: true, min: 0 }) ?? numberField(body, 'max_tokens', { integer: true, min: 0 }) ?? numberField(body, 'n_predict', { integer: true, min: -1 });
  const sampling: SamplingFields = {};
  const t = numberField(body, 'temperature', { min: 0 });
  if (t !== undefined) sampling.temperature = t;
  const topP = numberField(body, 'top_p', { min: 0, max: 1 });
  // top_p 0 asks for the single most likely token: greedy
  if (topP !== undefined) {
    if (topP === 0) sampling.temperature = 0;
    else sampling.topP = topP;
  }
  const topK = numberField(body, 'top_k', { integer: true, min: 0 });
  if (topK !== undefined) sampling.topK = topK;
  const minP = numberField(body, 'min_p', { min: 0, max: 1 });
  if (minP !== undefined) sampling.minP = minP;
  const rp = numberField(body, 'repeat_penalty', { min: 0, minExclusive: true });
  if (rp !== undefined) sampling.repeatPenalty = rp;
  for (const k of ['frequency_penalty', 'presence_penalty'] as const) {
    const p = numberField(body, k, { min: -2, max: 2 });
    if (p !== undefined && p !== 0) throw unsupported(k, `'${k}' is not supported yet; use 'repeat_penalty' (llama.cpp's, e.g. 1.1)`);
  }
  const seedRaw = numberField(body, 'seed', { integer: true });
  const seed = seedRaw === undefined || seedRaw === -1 ? undefined : ((seedRaw % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const stream = booleanField(body, 'stream') ?? false;
  const so = body.stream_options;
  let includeUsage = false;
  if (so !== undefined && so !== null) {
    if (!isObject(so)) throw badParam('stream_options', `'stream_options' must be an object {include_usage} (got ${show(so)})`, 'invalid_type');
    if (!stream) throw badParam('stream_options', "'stream_options' is only allowed with 'stream': true");
    includeUsage = booleanField(so, 'include_usage', 'stream_options.include_usage') ?? false;
  }
  for (const k of ['tools', 'functions', 'tool_choice', 'function_call'] as const) {
    const v = body[k];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0) && v !== 'none') throw unsupported(k, `'${k}' is not supported yet (this server has no tool calling)`);
  }
  const rf = body.response_format;
  if (rf !== undefined && rf !== null && !(isObject(rf) && rf.type === 'text')) throw unsupported('response_format', "'response_format' other than {type: \"text\"} is not supported yet (no constrained decoding)");

  let logprobs: number | undefined;
  const req: JobRequest = { kind, model, sampling, stop: stopField(body), stream, includeUsage, ...(seed !== undefined ? { seed } : {}), ...(maxTokens !== undefined && maxTokens >= 0 ? { maxTokens } : {}) };
  if (kind === 'chat') {
    req.messages = messagesField(body);
    const want = booleanField(body, 'logprobs') ?? false;
    const top = numberField(body, 'top_logprobs', { integer: true, min: 0, max: 20 });
    if (top !== undefined && !want) throw badParam('top_logprobs', "'top_logprobs' needs 'logprobs': true");
    if (want) logprobs = top ?? 0;
  } else {
    req.prompt = promptField(body);
    if (body.logprobs === true) logprobs = 0;
    else if (body.logprobs !== false) logprobs = numberField(body, 'logprobs', { integer: true, min: 0, max: 20 });
    if (booleanField(body, 'echo')) throw unsupported('echo', "'echo' is not supported yet (the prompt is not returned with the completion)");
    const bestOf = numberField(body, 'best_of', { integer: true, min: 1 });
    if (bestOf !== undefined && bestOf !== 1) throw unsupported('best_of', "'best_of' other than 1 is not supported");
    const suffix = stringField(body, 'suffix');
    if (suffix) throw unsupported('suffix', "'suffix' (fill in the middle) is not supported");
  }
  if (logprobs !== undefined) req.logprobs = logprobs;
  const compression = compressionField(body);
  if (compression !== undefined) req.compression = compression;
  return req;
}
