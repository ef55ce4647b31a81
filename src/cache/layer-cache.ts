import { HeadCache, type KvType } from './head-cache.js';

/** One layer's cache: one HeadCache per KV head; heads may hold different numbers of slots. */
export class LayerCache {
  heads: HeadCache[];

  constructor(kvHeads: number, headDim: number, capacity = 16, kvType: KvType = 'f32') {
    this.heads = Array.from({ length: kvHeads }, () => new HeadCache(headDim, capacity, kvType));
  }

  get kvHeads(): number {
    return this.heads.length;
  }

  get headDim(): number {
    return this.heads[0]!.headDim;
  }

  /** Slots per head. */
  lengths(): number[] {
    return this.heads.map((h) => h.length);
  }

  /** Total slots over heads. */
  slots(): number {
    let s = 0;
    for (const h of this.heads) s += h.length;
    return s;
  }

  bytes(): number {
    let b = 0;
    for (const h of this.heads) b += h.bytes();
    return b;
  }

  allocatedBytes(): number {
    let b = 0;
    for (const h of this.heads) b += h.allocatedBytes();
    return b;
  }

  clone(reserveSlots = 0): LayerCache {
    const c = new LayerCache(0, this.headDim);
    c.heads = this.heads.map((h) => h.clone(reserveSlots));
    return c;
  }
}
