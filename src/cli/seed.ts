/**
 * `--seed S` in every command: an integer in [-1, 2^32 - 1]; -1 asks for a random seed, as in llama.cpp. The seed
 * drawn is returned (and the caller prints it), so a run can be repeated with `--seed N`.
 */
import { randomInt } from 'node:crypto';
import { numberOption } from './options.js';

export const SEED_MAX = 2 ** 32 - 1;

/** The seed `value` asks for; `fallback` when absent ('random': a random one). `random` says whether it was drawn. */
export function parseSeed(value: string | undefined, fallback: number | 'random'): { seed: number; random: boolean } {
  const s = numberOption('seed', value, { integer: true, min: -1, max: SEED_MAX });
  const draw = s === -1 || (s === undefined && fallback === 'random');
  if (draw) return { seed: randomInt(0, SEED_MAX), random: true };
  return { seed: s ?? (fallback as number), random: false };
}

/** The line a grid command prints when --seed -1 drew its seed. */
export function drawnSeedNote(command: string, seed: number): string {
  return `${command}: --seed -1 drew the seed ${seed}; pass --seed ${seed} to resume or repeat this run\n`;
}
