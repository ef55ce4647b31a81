/**
 * The built-in haystack: excerpts of public-domain books that ship inside the package
 * (assets/haystack-excerpts.json.gz, written by scripts/make-haystack-excerpts.ts from the held-out haystack books),
 * so haystack tasks and the demo run on a fresh clone or an installed package with no data folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { KvError } from '../../util/errors.js';
import { packageRoot } from './data-root.js';

export interface BuiltinHaystackFile {
  about: string;
  excerpts: { book: string; start: number; text: string }[];
}

let cached: string | undefined;

/** The excerpts joined by blank lines (paragraphs inside them are separated by blank lines too). */
export function builtinHaystackText(): string {
  if (cached !== undefined) return cached;
  const file = join(packageRoot(), 'assets', 'haystack-excerpts.json.gz');
  if (!existsSync(file)) throw new KvError(`${file} is missing; the package is incomplete: reinstall kvmerger`);
  let parsed: BuiltinHaystackFile;
  try {
    parsed = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as BuiltinHaystackFile;
  } catch (e) {
    throw new KvError(`${file} cannot be read (${(e as Error).message}); the package is damaged: reinstall kvmerger`);
  }
  if (!Array.isArray(parsed.excerpts) || parsed.excerpts.length === 0) throw new KvError(`${file} holds no excerpts; reinstall kvmerger`);
  cached = parsed.excerpts.map((e) => e.text.trim()).join('\n\n');
  return cached;
}
