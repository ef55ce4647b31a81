import { KvError } from '../../util/errors.js';

/**
 * The values of a JSONL text, one per non-blank line, each with `where` (`file:line`) for the caller's own field
 * checks. A line that is not JSON is a KvError naming the file and line; `what` says what each line should be
 * ("one RULER sample").
 */
export function parseJsonLines(text: string, file: string, what: string): { value: unknown; where: string }[] {
  const out: { value: unknown; where: string }[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${file}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), where });
    } catch (e) {
      throw new KvError(`${where}: not valid JSON (${(e as Error).message}); each line must be ${what}`);
    }
  });
  return out;
}
