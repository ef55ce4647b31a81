/** Locates the offline data folder for tests; tests that need it skip when it is absent. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of `rel` under `../shared/data` (or env KVMERGER_SHARED_DATA), or undefined when it is absent. */
export function sharedData(rel = ''): string | undefined {
  const root = process.env.KVMERGER_SHARED_DATA ? resolve(process.env.KVMERGER_SHARED_DATA) : resolve(repoRoot, '..', 'shared', 'data');
  const p = join(root, rel);
  return existsSync(p) ? p : undefined;
}
