/**
 * A generated block inside a hand-written Markdown file: the text between a begin and an end marker, rewritten by a
 * script from the code's declarations (the options tables of docs/methods.md and docs/eval-tasks.md) and checked
 * current by a test.
 */
export function withGeneratedBlock(doc: string, begin: string, end: string, body: string): string {
  const a = doc.indexOf(begin);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`the markers ${begin} … ${end} are missing`);
  return `${doc.slice(0, a + begin.length)}\n\n${body}\n${doc.slice(b)}`;
}
