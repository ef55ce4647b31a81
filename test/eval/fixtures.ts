/** A tiny data root for eval tests (a temp folder with an 'essays' haystack), so they run without ../shared/data. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const SENTENCES = [
  'The river ran quietly past the mill.',
  'Children played on the green while their mothers talked.',
  'A cart rolled by, loaded with hay and apples!',
  'Was the baker awake yet?',
  'Nobody could say for certain.',
  'The old clock in the square struck nine.',
  'Rain had fallen all night, and the lanes were deep in mud.',
  'Somewhere a dog barked twice and then fell silent.',
];

/** Deterministic prose of about `sentences` sentences, in paragraphs of five. */
export function prose(sentences: number, offset = 0): string {
  const paras: string[] = [];
  let cur: string[] = [];
  for (let i = 0; i < sentences; i++) {
    cur.push(SENTENCES[(i + offset) % SENTENCES.length]!.replace('.', ` ${i}.`));
    if (cur.length === 5) {
      paras.push(cur.join(' '));
      cur = [];
    }
  }
  if (cur.length) paras.push(cur.join(' '));
  return paras.join('\n\n');
}

/** A data root with haystacks/paul-graham-essays/{a,b}.txt (no NIAH_DEFAULTS.json: built-in defaults apply). */
export function tinyDataRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'kvm-eval-'));
  const dir = join(root, 'haystacks', 'paul-graham-essays');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'a.txt'), prose(200) + '\n\n');
  writeFileSync(join(dir, 'b.txt'), prose(200, 3) + '\n\n');
  return root;
}
