/**
 * An error caused by the user's input (a bad file, an unknown option, a prompt that is too long).
 * The CLI prints its message as one line and exits with code 1; no stack trace unless --verbose.
 * The message names the problem and, where there is one, the fix.
 */
export class KvError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KvError';
  }
}
