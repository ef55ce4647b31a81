import { readFileSync } from 'node:fs';

/** The project version from package.json, recorded in every result row. */
export const version: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
})();
