/** A generated token's log-probability under the model, and the most likely alternatives at that step. */
export interface TokenLogprobs {
  id: number;
  logprob: number;
  /** The `n` most likely tokens, most likely first (ties: lowest id first). */
  top: { id: number; logprob: number }[];
}

/** log-softmax of `logits` at `id`, and the `n` largest log-probabilities (natural log, raw logits). */
export function tokenLogprobs(logits: Float32Array, id: number, n: number): TokenLogprobs {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const logZ = max + Math.log(sum);
  // the n best ids by insertion into a short sorted list (n ≤ 20)
  const best: number[] = [];
  if (n > 0) {
    for (let i = 0; i < logits.length; i++) {
      const v = logits[i]!;
      if (best.length === n && v <= logits[best[n - 1]!]!) continue;
      let at = best.length;
      while (at > 0 && logits[best[at - 1]!]! < v) at--;
      best.splice(at, 0, i);
      if (best.length > n) best.pop();
    }
  }
  return { id, logprob: logits[id]! - logZ, top: best.map((i) => ({ id: i, logprob: logits[i]! - logZ })) };
}

/** A token's text and its UTF-8 bytes, as OpenAI's logprobs report them (a piece may be part of a character). */
export function tokenPiece(tokenizer: { tokenBytes(id: number): ArrayLike<number> }, id: number): { token: string; bytes: number[] } {
  const bytes = Array.from(tokenizer.tokenBytes(id));
  return { token: new TextDecoder().decode(Uint8Array.from(bytes)), bytes };
}

/** Generated tokens' log-probabilities in the shape of OpenAI's chat `logprobs.content`. */
export function logprobsContent(tokenizer: { tokenBytes(id: number): ArrayLike<number> }, items: readonly TokenLogprobs[]) {
  return items.map((t) => ({
    ...tokenPiece(tokenizer, t.id),
    logprob: t.logprob,
    top_logprobs: t.top.map((a) => ({ ...tokenPiece(tokenizer, a.id), logprob: a.logprob })),
  }));
}
