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

  constructor(layers: number, kvHeads: number, headDim: number, capacity = 16) {
    this.layers = Array.from({ length: layers }, () => new LayerCache(kvHeads, headDim, capacity));
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

  /** Bytes of keys and values held (4 bytes per value), the number the project reports as KV memory. */
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
    const c = new KVCache(0, 0, 1);
    c.layers = this.layers.map((l) => l.clone(reserveSlots));
    c.nextPosition = this.nextPosition;
    return c;
  }
}
