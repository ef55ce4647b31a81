import type { KVCache } from '../cache/kv-cache.js';
import type { AttentionStats } from '../cache/attention-stats.js';
import type { DecodePolicy } from '../compress/compression-method.js';
import { dropOutsideWindow, layersView, selectStatsLayers, type SlidingLayers } from '../cache/sliding-window.js';
import { Sampler } from './sampler.js';
import { checkLogits } from './finite-logits.js';
import { StopStringMatcher } from './stop-strings.js';
import { tokenLogprobs, type TokenLogprobs } from './logprobs.js';
import type { SessionModel } from './session-model.js';
import type { StopReason } from './stop-reason.js';

export interface DecodeLoopOptions {
  /** Tokens to decode at most (forced: at most `forced.length`). */
  maxTokens: number;
  /** Picks each token from the logits (default: greedy, `new Sampler()`). */
  sampler?: Sampler;
  /**
   * Teacher forcing: these tokens are fed in order instead of sampled. No stop rule applies (EOS, stop strings), and
   * every one goes through the model, the last included, so `onLogits` sees the logits after each.
   */
  forced?: readonly number[];
  /** The tokens before the first decoded one (the prompt), for the sampler's repetition penalty. */
  history?: readonly number[];
  /** Stop at the vocabulary's end-of-generation tokens (default true). */
  stopAtEos?: boolean;
  /** The text stops before the first occurrence of any of these strings. */
  stop?: readonly string[];
  /** Drop an SPM dummy-prefix space from the first piece (the text begins the document). */
  stripLeadingSpace?: boolean;
  /** A decode-time compression policy, called after each decoded token is in the cache. */
  policy?: DecodePolicy;
  /** The layers the policy sees (default all): a sliding-window model's global layers, through a view of the cache. */
  policyLayers?: number[];
  /** Sliding-window layers: their slots out of the window are dropped, in batches of 64. */
  slidingWindow?: SlidingLayers;
  /** Each decoded token id, with its log-probabilities when `logprobs` is set (the top-N alternatives). */
  onToken?: (id: number, logprobs?: TokenLogprobs) => void;
  logprobs?: number;
  /** Streamed text, as soon as it is complete UTF-8 and cannot be part of a stop string. */
  onText?: (text: string) => void;
  /** The logits after decoded token `i` went through the model. */
  onLogits?: (i: number, logits: Float32Array) => void;
  /** Awaited before each forward pass (a server lets other sessions take their turn there). */
  beforeStep?: () => void | Promise<void>;
  /** Checked before each forward pass: the loop ends with `aborted: true`. */
  signal?: AbortSignal;
}

export interface DecodeLoopResult {
  tokens: number[];
  /** The decoded text, cut before a stop string. */
  text: string;
  stopReason: StopReason;
  aborted: boolean;
  /** Forward passes run (a sampled token is run only when another is to follow it). */
  forwards: number;
  ms: number;
}

/**
 * The one decode loop (generate(), the server and the eval runner): from the logits of the last token in `cache`,
 * pick a token (sample it, or take the next forced one), apply the stop rules, feed it through the model, let the
 * decode policy compress, repeat. The cache grows by one slot per forward pass; it stops at the model's context.
 */
export async function decodeLoop(model: SessionModel, cache: KVCache, firstLogits: Float32Array, o: DecodeLoopOptions): Promise<DecodeLoopResult> {
  const { tokenizer, backend } = model;
  const ctx = model.config.contextLength;
  const forced = o.forced;
  const limit = forced ? Math.min(o.maxTokens, forced.length) : o.maxTokens;
  const sampler = o.sampler ?? new Sampler();
  const tokens: number[] = [];
  const history: number[] = [...(o.history ?? [])];
  const stopIds = new Set(o.stopAtEos === false ? [] : tokenizer.stopIds);
  const decoder = tokenizer.createDecoder({ stripLeadingSpace: o.stripLeadingSpace === true });
  const stops = new StopStringMatcher(forced ? [] : (o.stop ?? []));
  const emit = (s: string) => {
    if (s && o.onText) o.onText(s);
  };
  const policy = o.policy;
  const ps = policy?.stats;
  const policyStats = ps && (ps.columnSums || ps.window > 0 || ps.lastRow) ? ps : undefined;
  const only = o.policyLayers;
  const view = (c: KVCache): KVCache => (only ? layersView(c, only) : c);
  const pick = (s: AttentionStats | undefined): AttentionStats | undefined => (only ? selectStatsLayers(s, only) : s);
  let logits = firstLogits;
  let stopReason: StopReason = 'length';
  let aborted = false;
  let forwards = 0;
  const t0 = performance.now();
  while (tokens.length < limit) {
    const next = forced ? forced[tokens.length]! : sampler.sample(logits, history);
    if (!forced && stopIds.has(next)) {
      stopReason = 'eos';
      break;
    }
    tokens.push(next);
    history.push(next);
    o.onToken?.(next, o.logprobs !== undefined ? tokenLogprobs(logits, next, o.logprobs) : undefined);
    emit(stops.push(decoder.push(next)));
    if (stops.stopped) {
      stopReason = 'stop';
      break;
    }
    // A sampled last token needs no forward pass (nothing is sampled after it); a forced one is fed for its logits.
    if (!forced && tokens.length >= limit) break;
    if (cache.nextPosition >= ctx) {
      stopReason = 'context';
      break;
    }
    if (o.beforeStep) await o.beforeStep();
    if (o.signal?.aborted) {
      aborted = true;
      break;
    }
    const r = await backend.forward(Int32Array.of(next), cache, { logits: 'last', ...(policyStats ? { stats: policyStats } : {}) });
    forwards++;
    logits = r.logits;
    checkLogits(logits, cache.nextPosition - 1);
    o.onLogits?.(tokens.length - 1, logits);
    policy?.afterDecodeStep(view(cache), pick(r.stats));
    if (o.slidingWindow) dropOutsideWindow(cache, o.slidingWindow, 64);
  }
  if (!stops.stopped) emit(stops.push(decoder.flush()) + stops.flush());
  return { tokens, text: stops.text, stopReason, aborted, forwards, ms: performance.now() - t0 };
}
