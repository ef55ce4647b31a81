/**
 * An estimate of a text's rendered width in DejaVu Sans (the font the PNG rasteriser uses; browsers' fallbacks are
 * narrower), used to size margins so that no label is clipped. Advance widths in em, grouped by character class,
 * rounded up from the font's metrics: an overestimate costs a few pixels of white space, an underestimate a clip.
 */
const NARROW = new Set([...'iIjl.,:;\'|!()[]{} `/\\-']);
const WIDE = new Set([...'mwMW@%&']);

export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) {
    if (NARROW.has(ch)) em += 0.36;
    else if (WIDE.has(ch)) em += 0.98;
    else if (ch >= 'A' && ch <= 'Z') em += 0.74;
    else if (ch >= '0' && ch <= '9') em += 0.64;
    else if (ch.charCodeAt(0) > 0x2e7f) em += 1.0; // CJK and other wide scripts
    else em += 0.62;
  }
  return em * fontSize;
}

/** Cuts a text to fit `maxWidth`, ending it with an ellipsis when cut. */
export function fitText(text: string, fontSize: number, maxWidth: number): string {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  const chars = [...text];
  while (chars.length > 1 && textWidth(chars.join('') + '…', fontSize) > maxWidth) chars.pop();
  return chars.join('') + '…';
}
