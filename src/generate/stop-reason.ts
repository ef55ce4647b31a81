/**
 * Why a decode loop ended (`GenerateResult.stopReason`, `--json`'s `stopReason`, the eval rows' `stopReason`):
 * - `eos`: the model sampled one of the vocabulary's end-of-generation tokens (not part of the output);
 * - `stop`: a stop string appeared (the text is cut before it);
 * - `length`: the token limit was reached (also when a signal aborted the loop: `aborted` says so);
 * - `context`: the cache reached the model's context.
 */
export type StopReason = 'eos' | 'stop' | 'length' | 'context';
