import { KvError } from '../util/errors.js';

/**
 * Stops a run whose model output went NaN or Inf (a corrupt weight the load did not see, an overflow, a method
 * setting out of range): sampling from such logits would emit token 0 forever, and scores would be NaN. `at` is
 * the position of the first row; `rows` rows of `logits.length / rows` values each.
 */
export function checkLogits(logits: Float32Array | undefined, at: number, rows = 1): void {
  if (!logits) return;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i]!;
    if (x - x !== 0) {
      const vocab = logits.length / rows;
      throw new KvError(
        `the model's output is ${Number.isNaN(x) ? 'NaN' : 'infinite'} at position ${at + Math.floor(i / vocab)} (token ${i % vocab} of its logits); ` +
          'the run stopped: the weights or the settings (a method option out of range, e.g. kvmerger.sigma) give non-finite values',
      );
    }
  }
}
