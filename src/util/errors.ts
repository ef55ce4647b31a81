/**
 * An error caused by the user's input (a bad file, an unknown option, a prompt that is too long).
 * The CLI prints its message as one line and exits with code 1; no stack trace unless --verbose.
 * The message names the problem and, where there is one, the fix.
 */
export class KvError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(printable(message), options);
    this.name = 'KvError';
  }
}

/** Longest message kept whole; a longer one (a binary file's bytes read as a name) is cut in the middle. */
const MAX_MESSAGE_CHARS = 1500;

/**
 * Text safe to print as one line on a terminal: control characters (newlines and escape sequences included),
 * replacement characters from undecodable bytes, lone surrogates and invisible or direction-changing format
 * characters are written as escapes (\x1b, \u{fffd}); a very long text is shortened in the middle. Names read
 * from a damaged binary file reach messages this way, never as raw bytes.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  let out = text.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
  if (out.length > MAX_MESSAGE_CHARS) {
    const half = Math.floor(MAX_MESSAGE_CHARS / 2);
    out = `${out.slice(0, half)} … (${out.length - 2 * half} characters left out) … ${out.slice(-half)}`;
  }
  return out;
}
