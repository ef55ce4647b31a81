/** Parsing `--layers 0,mid,last` and `--heads 0,all` against a model's shape. */
import { KvError } from '../util/errors.js';

/**
 * Indices named by a comma-separated list: integers, `first`, `mid` (⌊(n−1)/2⌋), `last`, `all`; sorted, without
 * duplicates. `flag` names the option in errors (e.g. `--layers`), `count` is how many exist.
 */
export function parseIndexList(spec: string, count: number, flag: string): number[] {
  const out = new Set<number>();
  const parts = spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new KvError(`${flag} is empty; give indices such as 0,mid,last or all`);
  for (const p of parts) {
    if (p === 'all') for (let i = 0; i < count; i++) out.add(i);
    else if (p === 'first') out.add(0);
    else if (p === 'mid') out.add(Math.floor((count - 1) / 2));
    else if (p === 'last') out.add(count - 1);
    else if (/^\d+$/.test(p)) {
      const i = Number(p);
      if (i >= count) throw new KvError(`${flag} ${p}: out of range; the model has ${count} (0..${count - 1})`);
      out.add(i);
    } else throw new KvError(`${flag}: '${p}' is not an index; use integers, first, mid, last or all`);
  }
  return [...out].sort((a, b) => a - b);
}
