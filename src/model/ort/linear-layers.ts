/**
 * The graph's matrix products with weights, y = x · Wᵀ, from the weights as stored: quantised GGUF types run through
 * onnxruntime's MatMulNBits in their own bits (see matmul-nbits-packing.ts); F32, F16 and BF16 are expanded to F32
 * and run as Gemm. Projections that read the same input (Q, K, V; gate, up) are stacked along the output rows so
 * one node computes them, as long as their layouts agree; parts of different layouts run in separate nodes whose
 * outputs are concatenated in order.
 */
import { KvError } from '../../util/errors.js';
import type { WeightSource } from '../../core/weight-source.js';
import type { GraphBuilder } from './graph-builder.js';
import { matMulNBitsLayout, packMatMulNBits, packedRowBytes, type MatMulNBitsLayout } from './matmul-nbits-packing.js';

/**
 * The arithmetic of the quantised products (onnxruntime's accuracy_level): `int8` quantises the activations to int8
 * per block, as llama.cpp's own dot products do (accuracy_level 4); `fp32` computes in float32 (accuracy_level 0).
 * Under `fp32`, 8-bit types are expanded to F32 instead: onnxruntime has no fast float path for them (measured
 * 50-70× slower than int8 at one token).
 */
export type ComputePrecision = 'int8' | 'fp32';
export const COMPUTE_PRECISIONS: readonly ComputePrecision[] = ['int8', 'fp32'];

export interface LinearPart {
  /** Tensor name; its shape must be [rows, K]. */
  name: string;
  rows: number;
}

/** How the fast path holds one tensor: 'packed' (MatMulNBits in its own bits) or 'expanded' (F32). */
export type WeightHolding = 'packed' | 'expanded';

export class LinearLayers {
  /** Stored type → how each tensor of that type is held, for `info` and the docs. */
  readonly holdings = new Map<string, { tensor: string; type: string; holding: WeightHolding }>();
  private readonly blockSums = new Map<string, string>();

  constructor(
    private readonly g: GraphBuilder,
    private readonly weights: WeightSource,
    readonly precision: ComputePrecision,
  ) {}

  /** Checks a tensor exists with the shape the metadata implies; returns its element count. */
  check(name: string, shape: number[]): number {
    const w = this.weights;
    if (!w.has(name)) throw new KvError(`model weights: tensor '${name}' is missing; the file is incomplete or not a ${w.config.architecture} model`);
    const want = shape.reduce((a, b) => a * b, 1);
    const have = w.shapeOf(name).reduce((a, b) => a * b, 1);
    if (have !== want) {
      throw new KvError(`model weights: tensor '${name}' has shape [${w.shapeOf(name)}], expected [${shape}]; the file does not match its metadata`);
    }
    return want;
  }

  /** Writes the tensor, dequantised, into `dest` (no cached copy in the source). */
  readF32(name: string, dest: Float32Array): void {
    const w = this.weights;
    if (w.readInto) return w.readInto(name, dest);
    const data = w.get(name);
    if (data.length !== dest.length) throw new KvError(`model weights: tensor '${name}' holds ${data.length} values, its shape says ${dest.length}; the file is corrupt`);
    dest.set(data);
  }

  /** An F32 initializer of the tensors stacked along their first dimension (vectors or [rows, K] matrices). */
  stackedF32(fusedName: string, parts: { name: string; shape: number[] }[]): string {
    const counts = parts.map((p) => this.check(p.name, p.shape));
    const rows = parts.reduce((a, p) => a + p.shape[0]!, 0);
    const shape = parts[0]!.shape.length === 1 ? [rows] : [rows, parts[0]!.shape[1]!];
    for (const p of parts) this.hold(p.name, 'expanded');
    return this.g.deferredInitializer(fusedName, shape, (dest) => {
      let at = 0;
      parts.forEach((p, i) => {
        this.readF32(p.name, dest.subarray(at, at + counts[i]!));
        at += counts[i]!;
      });
    });
  }

  /** The MatMulNBits layout the tensor runs in, or undefined when it is expanded to F32. */
  layoutOf(name: string): MatMulNBitsLayout | undefined {
    const l = matMulNBitsLayout(this.weights.typeOf(name));
    if (!l || !this.weights.readBytes) return undefined;
    if (this.precision === 'fp32' && l.bits === 8) return undefined;
    return l;
  }

  /** x [T, K] times the parts stacked along rows, transposed: [T, Σ rows]. */
  linear(x: string, K: number, parts: LinearPart[], fusedName: string): string {
    for (const p of parts) this.check(p.name, [p.rows, K]);
    const key = (p: LinearPart) => {
      const l = this.layoutOf(p.name);
      return l ? `${l.bits}/${l.group}` : 'f32';
    };
    // Runs of consecutive parts with one layout, so the concatenation keeps the parts' order.
    const runs: LinearPart[][] = [];
    for (const p of parts) {
      const last = runs[runs.length - 1];
      if (last && key(last[0]!) === key(p)) last.push(p);
      else runs.push([p]);
    }
    const outs = runs.map((run, i) => {
      const name = runs.length === 1 ? fusedName : `${fusedName}.${i}`;
      return this.layoutOf(run[0]!.name) ? this.packed(x, K, run, name) : this.expanded(x, K, run, name);
    });
    return outs.length === 1 ? outs[0]! : this.g.op('Concat', outs, { axis: -1 });
  }

  private expanded(x: string, K: number, run: LinearPart[], name: string): string {
    const w = this.stackedF32(name, run.map((p) => ({ name: p.name, shape: [p.rows, K] })));
    return this.g.op('Gemm', [x, w], { transB: 1 });
  }

  private packed(x: string, K: number, run: LinearPart[], name: string): string {
    const g = this.g;
    const layouts = run.map((p) => this.layoutOf(p.name)!);
    const { bits, group } = layouts[0]!;
    const withOffset = layouts.some((l) => l.offset);
    const N = run.reduce((a, p) => a + p.rows, 0);
    const groups = K / group;
    if (!Number.isInteger(groups)) throw new KvError(`model weights: '${run[0]!.name}' has rows of ${K}, not a multiple of its block of ${group}`);
    // Packing writes scales and offsets beside the codes; they are copied into their own initializers right after
    // (the builder fills buffers in declaration order), so only these small arrays exist twice, briefly.
    let scales: Float32Array | undefined;
    let offsets: Float32Array | undefined;
    for (const p of run) this.hold(p.name, 'packed');
    const qweight = g.deferred(`${name}.qweight`, 'uint8', [N, groups, (group * bits) / 8], (dest) => {
      scales = new Float32Array(N * groups);
      offsets = withOffset ? new Float32Array(N * groups) : undefined;
      let row = 0;
      for (const p of run) {
        const type = this.weights.typeOf(p.name);
        packMatMulNBits(type, this.weights.readBytes!(p.name), p.rows, K, { data: dest, scales, offsets, rowOffset: row }, `model weights: tensor '${p.name}'`);
        row += p.rows;
      }
      if (dest.length !== N * packedRowBytes(layouts[0]!, K)) throw new Error('LinearLayers: packed size mismatch');
    });
    const scaleInit = g.deferredInitializer(`${name}.scales`, [N * groups], (dest) => {
      dest.set(scales!);
      scales = undefined;
    });
    const y = g.op('MatMulNBits', [x, qweight, scaleInit], { K, N, bits, block_size: group, accuracy_level: this.precision === 'int8' ? 4 : 0 }, 'com.microsoft');
    if (!withOffset) return y;
    // w = s·(u − Z) + o per group, so x · wᵀ gains Σ_groups (Σ_{k ∈ group} x_k) · o: a [T, K/group] × [K/group, N] product.
    const offsetInit = g.deferredInitializer(`${name}.offsets`, [N, groups], (dest) => {
      dest.set(offsets!);
      offsets = undefined;
    });
    return g.op('Add', [y, g.op('Gemm', [this.blockSum(x, K, group), offsetInit], { transB: 1 })]);
  }

  /** [T, K] → [T, K / group]: the sums of x over each group of K (shared by the products that read x). */
  private blockSum(x: string, K: number, group: number): string {
    const key = `${x}|${group}`;
    let s = this.blockSums.get(key);
    if (!s) {
      const g = this.g;
      s = g.op('ReduceSum', [g.op('Reshape', [x, g.ints([-1, K / group, group])]), g.ints([2])], { keepdims: 0 });
      this.blockSums.set(key, s);
    }
    return s;
  }

  private hold(tensor: string, holding: WeightHolding): void {
    this.holdings.set(tensor, { tensor, type: this.weights.typeOf(tensor), holding });
  }
}
