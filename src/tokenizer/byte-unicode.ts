/**
 * GPT-2's reversible byte ↔ unicode mapping: byte-level BPE vocabularies store every byte as a printable character
 * (printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards in byte order; space → `Ġ`).
 */
const BYTE_TO_CHAR: string[] = new Array<string>(256);
const CHAR_TO_BYTE = new Map<string, number>();

{
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const cp = printable ? b : 256 + extra++;
    const ch = String.fromCharCode(cp);
    BYTE_TO_CHAR[b] = ch;
    CHAR_TO_BYTE.set(ch, b);
  }
}

const utf8 = new TextEncoder();

/** The byte-level character standing for byte `b` (0..255). */
export function byteChar(b: number): string {
  return BYTE_TO_CHAR[b]!;
}

/** Maps the UTF-8 bytes of `text` to the byte-level alphabet (`' hi'` → `'Ġhi'`). */
export function byteEncode(text: string): string {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let out = '';
    for (let i = 0; i < text.length; i++) out += BYTE_TO_CHAR[text.charCodeAt(i)]!;
    return out;
  }
  const bytes = utf8.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_CHAR[bytes[i]!]!;
  return out;
}

/**
 * The bytes a byte-level string stands for. A character outside the alphabet (only in malformed vocabularies) stands
 * for its own UTF-8 bytes.
 */
export function byteDecode(piece: string): Uint8Array {
  const out: number[] = [];
  for (const ch of piece) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b !== undefined) out.push(b);
    else for (const x of utf8.encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}
