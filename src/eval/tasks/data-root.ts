/**
 * Where the offline data lives: a path the user passes, else env KVMERGER_SHARED_DATA, else `../shared/data` beside
 * the repository (found by walking up from this module to kvmerger's package.json). Never copied into the repo.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KvError } from '../../util/errors.js';

/** The repository (package) root: the nearest ancestor folder whose package.json is named kvmerger. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'kvmerger') return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('packageRoot: no kvmerger package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** The default data root (may not exist). */
export function defaultDataRoot(): string {
  const env = process.env.KVMERGER_SHARED_DATA;
  if (env) return resolve(env);
  return resolve(packageRoot(), '..', 'shared', 'data');
}

/**
 * The data root, checked: `given` (a user's --data path) or the default. `what` names what needs it, for the
 * error message.
 */
export function resolveDataRoot(given: string | undefined, what = 'this task'): string {
  const root = given !== undefined ? resolve(given) : defaultDataRoot();
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    const how = given !== undefined ? 'the path passed as the data folder' : 'the default ../shared/data beside the repository';
    throw new KvError(
      `data folder ${root} (${how}) does not exist; ${what} needs it: pass --data DIR or set KVMERGER_SHARED_DATA`,
    );
  }
  return root;
}

/** A file or folder under the data root, checked to exist. */
export function dataPath(root: string, rel: string, what: string): string {
  const p = join(root, rel);
  if (!existsSync(p)) throw new KvError(`${p} not found; ${what} needs it: check the data folder (--data DIR)`);
  return p;
}
