/**
 * What one MatMulNBits product costs per weight byte for each way the packing can hold a GGUF type (issue 13, K-quant
 * decode): single-product graphs at TinyLlama's shapes, one token (M = 1), 1 thread, random codes, all variants of a
 * shape alternated round by round so a loaded machine slows them alike; median µs per product and GB/s of the bytes
 * the product reads (codes + scales + zero points/offsets).
 *
 *   npx tsx scripts/matmul-nbits-probe.ts    (env ROUNDS, default 15; REPS per round, default 20; ONLY: a regular
 *                                             expression on packing names, SHAPES: one on shape names)
 */
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/model/ort/graph-builder.js';

interface Variant {
  name: string;
  bits: 4 | 8;
  block: number;
  /** 'none': default zero point; 'u8zp': uint8 zero points input; 'fzp': float zero points input;
   *  'gemm': + blocksum(x) · offsetsᵀ by Gemm(transB) (the packing's Q4_K path); 'matmul': the same by MatMul with offsets stored [groups, N]. */
  zero: 'none' | 'u8zp' | 'fzp' | 'gemm' | 'matmul';
  accuracy: number;
}

const VARIANTS: Variant[] = [
  { name: 'Q4_0: 4-bit b32', bits: 4, block: 32, zero: 'none', accuracy: 4 },
  { name: 'Q4_K now: 4-bit b32 + offset Gemm', bits: 4, block: 32, zero: 'gemm', accuracy: 4 },
  { name: 'Q4_K: 4-bit b32 + offset MatMul', bits: 4, block: 32, zero: 'matmul', accuracy: 4 },
  { name: '4-bit b32 uint8 zero points', bits: 4, block: 32, zero: 'u8zp', accuracy: 4 },
  { name: '4-bit b32 float zero points', bits: 4, block: 32, zero: 'fzp', accuracy: 4 },
  { name: '4-bit b64', bits: 4, block: 64, zero: 'none', accuracy: 4 },
  { name: '4-bit b128', bits: 4, block: 128, zero: 'none', accuracy: 4 },
  { name: '4-bit b32 accuracy 0 (fp32)', bits: 4, block: 32, zero: 'none', accuracy: 0 },
  { name: 'Q8_0: 8-bit b32', bits: 8, block: 32, zero: 'none', accuracy: 4 },
  { name: 'Q6_K now: 8-bit b16', bits: 8, block: 16, zero: 'none', accuracy: 4 },
  { name: '8-bit b32 + offset Gemm (Q5_K)', bits: 8, block: 32, zero: 'gemm', accuracy: 4 },
];

const SHAPES: [number, number, string][] = [
  [2048, 11264, 'gate+up (2 x 5632)'],
  [5632, 2048, 'down'],
  [2048, 2048, 'q / o'],
  [2048, 256, 'k / v'],
  [2048, 32000, 'output head'],
];

function randomBytes(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = x & 255;
  }
  return a;
}
const randomFloats = (n: number, seed: number, scale: number): Float32Array => Float32Array.from(randomBytes(n, seed), (b) => ((b - 127.5) / 127.5) * scale);

async function session(v: Variant, K: number, N: number): Promise<{ s: ort.InferenceSession; bytes: number }> {
  const g = new GraphBuilder('probe');
  const x = g.input('x', 'float32', [1, K]);
  const groups = K / v.block;
  const codeBytes = (N * K * v.bits) / 8;
  const qweight = g.initializer('qweight', 'uint8', [N, groups, (v.block * v.bits) / 8], randomBytes(codeBytes, 1));
  const scales = g.initializer('scales', 'float32', [N * groups], randomFloats(N * groups, 2, 0.01));
  let bytes = codeBytes + 4 * N * groups;
  const inputs = [x, qweight, scales];
  if (v.zero === 'u8zp') {
    const zpBytes = v.bits === 4 ? N * Math.ceil(groups / 2) : N * groups;
    inputs.push(g.initializer('zp', 'uint8', [zpBytes], randomBytes(zpBytes, 3)));
    bytes += zpBytes;
  } else if (v.zero === 'fzp') {
    inputs.push(g.initializer('zp', 'float32', [N * groups], Float32Array.from(randomBytes(N * groups, 3), (b) => b & 15)));
    bytes += 4 * N * groups;
  }
  let y = g.op('MatMulNBits', inputs, { K, N, bits: v.bits, block_size: v.block, accuracy_level: v.accuracy }, 'com.microsoft');
  if (v.zero === 'gemm' || v.zero === 'matmul') {
    const sums = g.op('ReduceSum', [g.op('Reshape', [x, g.ints([-1, groups, v.block])]), g.ints([2])], { keepdims: 0 });
    const offsets = g.initializer('offsets', 'float32', v.zero === 'gemm' ? [N, groups] : [groups, N], randomFloats(N * groups, 4, 0.01));
    const term = v.zero === 'gemm' ? g.op('Gemm', [sums, offsets], { transB: 1 }) : g.op('MatMul', [sums, offsets]);
    y = g.op('Add', [y, term]);
    bytes += 4 * N * groups;
  }
  g.output(y, 'y', 'float32', [1, N]);
  const m = g.build();
  const s = await ort.InferenceSession.create(m.bytes, {
    externalData: m.externalData,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    logSeverityLevel: 3,
  });
  return { s, bytes };
}

const only = new RegExp(process.env.ONLY ?? '');
const shapes = new RegExp(process.env.SHAPES ?? '');
const rounds = Number(process.env.ROUNDS ?? 15);
const reps = Number(process.env.REPS ?? 20);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`| shape K → N | packing | bytes/weight | µs (median) | GB/s | vs Q4_0 µs |`);
console.log(`|---|---|---|---|---|---|`);
for (const [K, N, what] of SHAPES) {
  if (!shapes.test(what)) continue;
  const feeds = { x: new ort.Tensor('float32', randomFloats(K, 9, 1), [1, K]) };
  const built = [] as { v: Variant; s: ort.InferenceSession; bytes: number; t: number[] }[];
  for (const v of VARIANTS) {
    if (!only.test(v.name)) continue;
    // float zero points run the unpacked path (tens of ms on the head): measured on the small shapes only
    if (v.zero === 'fzp' && N * K > 2048 * 2048) continue;
    built.push({ v, ...(await session(v, K, N)), t: [] });
  }
  for (const b of built) for (let i = 0; i < 3; i++) await b.s.run(feeds);
  for (let r = 0; r < rounds; r++) {
    for (const b of built) {
      const n = b.v.zero === 'fzp' ? 2 : reps;
      for (let i = 0; i < n; i++) {
        const t = process.hrtime.bigint();
        await b.s.run(feeds);
        b.t.push(Number(process.hrtime.bigint() - t) / 1000);
      }
    }
  }
  const base = median(built[0]!.t);
  for (const b of built) {
    const us = median(b.t);
    console.log(`| ${K} → ${N} ${what} | ${b.v.name} | ${(b.bytes / (N * K)).toFixed(3)} | ${us.toFixed(0)} | ${(b.bytes / us / 1000).toFixed(1)} | ${(us / base).toFixed(2)} |`);
  }
  for (const b of built) await b.s.release();
}
