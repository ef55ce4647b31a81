/**
 * Graph pieces of the architectures beyond llama / qwen2 (qwen3, gemma2, gemma3, phi3), kept apart from the
 * transformer graph so that it only calls them where a config asks: soft-capping, GELU (tanh), the sliding-window
 * masks. Each matches the reference backend's step of the same name (src/model/reference-backend.ts).
 */
import type { GraphBuilder } from './graph-builder.js';

/** cap · tanh(x / cap). */
export function softcapOp(g: GraphBuilder, x: string, cap: number): string {
  return g.op('Mul', [g.op('Tanh', [g.op('Mul', [x, g.floats([1 / cap], [])])]), g.floats([cap], [])]);
}

/** GELU with the tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanhOp(g: GraphBuilder, x: string): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
  const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [x3, g.floats([0.044715], [])])]), g.floats([Math.sqrt(2 / Math.PI)], [])]);
  return g.op('Mul', [g.op('Mul', [x, g.floats([0.5], [])]), g.op('Add', [g.op('Tanh', [inner]), g.floats([1], [])])]);
}

/**
 * The in-chunk part of a sliding window: [T, T] with −inf where query i and key j of the chunk are `window` or more
 * positions apart (i − j ≥ window), 0 elsewhere (the causal half is masked separately). `full` is [T, T] of −inf.
 */
export function chunkWindowMask(g: GraphBuilder, full: string, window: number): string {
  return g.op('Trilu', [full, g.int(-window)], { upper: 0 });
}

/**
 * The cache part of a sliding window for one KV head: [G·T, L] with −inf where the query's position minus the
 * slot's position is `window` or more. `queryPos` float32 [T]; `slotPos` int32 [L] (the head's stored positions).
 */
export function cacheWindowMask(g: GraphBuilder, queryPos: string, slotPos: string, window: number, group: number): string {
  const kp = g.op('Cast', [slotPos], { to: 1 });
  const diff = g.op('Sub', [g.op('Unsqueeze', [queryPos, g.ints([1])]), g.op('Unsqueeze', [kp, g.ints([0])])]); // [T, L]
  const masked = g.op('GreaterOrEqual', [diff, g.floats([window], [])]);
  const m = g.op('Where', [masked, g.floats([-Infinity], []), g.floats([0], [])]);
  return group === 1 ? m : g.op('Tile', [m, g.ints([group, 1])]);
}
