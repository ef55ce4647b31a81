import type { KvType } from './head-cache.js';
import { LayerCache } from './layer-cache.js';

/**
 * The whole KV cache of a session: one LayerCache per layer, and the true position of the next token.
 * `nextPosition` is never derived from slot counts: after compression removes slots, the next token still
 * gets the position it would have had with the full cache.
 */
export class KVCache {
  layers: LayerCache[];
  /** Absolute position the next appended token gets. */
  nextPosition = 0;

  /** How keys and values are stored (every head alike). */
  readonly kvType: KvType;

  constructor(layers: number, kvHeads: number, headDim: number, capacity = 16, kvType: KvType = 'f32') {
    this.kvType = kvType;
    this.layers = Array.from({ length: layers }, () => new LayerCache(kvHeads, headDim, capacity, kvType));
  }

  /** Total slots over layers and heads. */
  slots(): number {
    let s = 0;
    for (const l of this.layers) s += l.slots();
    return s;
  }

  /** Slots per layer (summed over its heads). */
  slotsPerLayer(): number[] {
    return this.layers.map((l) => l.slots());
  }

  /** Bytes of keys and values held (2 bytes a value under f16, 4 under f32), the number the project reports as KV memory. */
  bytes(): number {
    let b = 0;
    for (const l of this.layers) b += l.bytes();
    return b;
  }

  /** Bytes of every buffer allocated, reserve and bookkeeping included. */
  allocatedBytes(): number {
    let b = 0;
    for (const l of this.layers) b += l.allocatedBytes();
    return b;
  }

  /** Make room for `extra` more slots in every head, so the next `extra` decode steps do not reallocate. */
  reserve(extra: number): void {
    for (const l of this.layers) for (const h of l.heads) h.reserve(h.length + extra);
  }

  clone(reserveSlots = 0): KVCache {
    const c = new KVCache(0, 0, 1, 16, this.kvType);
    c.layers = this.layers.map((l) => l.clone(reserveSlots));
    c.nextPosition = this.nextPosition;
    return c;
  }
}
