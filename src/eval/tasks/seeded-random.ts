/**
 * Seeded random helpers for task generation. Each sample gets its own generator derived from the run's seed and
 * the sample's coordinates, so adding a length or a depth never changes the other samples.
 */
import { Rng } from '../../util/rng.js';

/** FNV-1a 32-bit hash of a string (UTF-16 code units). */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A generator for one sample: `parts` are its coordinates (task name, length, depth, index). */
export function sampleRng(seed: number, ...parts: (string | number)[]): Rng {
  return new Rng(hash32([seed, ...parts].join('|')));
}

/** An integer in [lo, hi], both inclusive. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

export function choice<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('choice: empty list');
  return items[rng.int(items.length)]!;
}

/** Fisher–Yates shuffle in place; returns the array. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = items[i]!;
    items[i] = items[j]!;
    items[j] = t;
  }
  return items;
}

/** `k` distinct items, in random order. */
export function sampleDistinct<T>(rng: Rng, items: readonly T[], k: number): T[] {
  if (k > items.length) throw new Error(`sampleDistinct: ${k} from ${items.length}`);
  const copy = items.slice();
  // Partial Fisher–Yates: only the first k positions are needed.
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(copy.length - i);
    const t = copy[i]!;
    copy[i] = copy[j]!;
    copy[j] = t;
  }
  return copy.slice(0, k);
}

/** A random version-4 UUID string from the generator (lowercase hex, as Python's uuid.UUID(int=..., version=4)). */
export function randomUuid(rng: Rng): string {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i += 4) {
    const v = rng.nextUint32();
    bytes[i] = v >>> 24;
    bytes[i + 1] = (v >>> 16) & 0xff;
    bytes[i + 2] = (v >>> 8) & 0xff;
    bytes[i + 3] = v & 0xff;
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
