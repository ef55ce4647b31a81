/**
 * Speed of the q4_k_m quantiser (src/formats/quantize.ts) on a 50M-weight llama-shaped tensor set (hidden 512, FFN
 * 1536, 14 layers, 2,048-token vocabulary, untied; random normal weights with a heavy tail), each tensor of the type
 * llama.cpp's Q4_K_M mix gives it (Q4_K, Q6_K for attn_v / ffn_down in its layers and the output). Prints weights/s
 * by wall clock and by this process's CPU time (the machine may be shared) and a SHA-256 of all the bytes, so two
 * versions of the quantiser can be compared for identical output.
 *
 *   npx tsx scripts/quantize-speed.ts [--reps N] [--module PATH]   # PATH: another quantize.ts to time instead
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { tensorTypeFor } from '../src/formats/hf-folder.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' }, module: { type: 'string' } } });
const mod = (await import(values.module ? pathToFileURL(resolve(values.module)).href : '../src/formats/quantize.js')) as typeof import('../src/formats/quantize.js');
const E = 512, F = 1536, L = 14, V = 2048;
const shapes: [string, number[]][] = [['token_embd.weight', [V, E]], ['output.weight', [V, E]]];
for (let l = 0; l < L; l++) {
  for (const [p, s] of [['attn_q', [E, E]], ['attn_k', [E, E]], ['attn_v', [E, E]], ['attn_output', [E, E]], ['ffn_gate', [F, E]], ['ffn_up', [F, E]], ['ffn_down', [E, F]]] as const) {
    shapes.push([`blk.${l}.${p}.weight`, [...s]]);
  }
}
const rng = new Rng(1);
const tensors = shapes.map(([name, s]) => {
  const x = new Float32Array(s[0]! * s[1]!);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal() * 0.02 * (i % 97 === 0 ? 9 : 1);
  return { x, type: tensorTypeFor(name, s, 'q4_k_m', L, false) };
});
const total = tensors.reduce((a, t) => a + t.x.length, 0);
const mix: Record<string, number> = {};
for (const t of tensors) mix[t.type] = (mix[t.type] ?? 0) + t.x.length;
console.log(`${(total / 1e6).toFixed(1)}M weights: ${Object.entries(mix).map(([k, n]) => `${k} ${(n / 1e6).toFixed(1)}M`).join(', ')}`);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const wall: number[] = [];
const cpus: number[] = [];
for (let r = 0; r < Number(values.reps); r++) {
  const h = createHash('sha256');
  const t0 = performance.now();
  const c0 = cpu();
  for (const t of tensors) h.update(mod.quantize(t.x, t.type));
  wall.push((performance.now() - t0) / 1000);
  cpus.push(cpu() - c0);
  console.log(`rep ${r}: ${wall[r]!.toFixed(2)} s wall, ${cpus[r]!.toFixed(2)} s CPU, sha256 ${h.digest('hex').slice(0, 16)}`);
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
console.log(`median: ${(total / median(wall) / 1e6).toFixed(2)} M weights/s wall, ${(total / median(cpus) / 1e6).toFixed(2)} M weights/s CPU`);
