import { floatToHalfBits, HALF_TO_FLOAT } from '../formats/half.js';

/**
 * How keys and values are stored: 'f16' (half precision, 2 bytes a value, llama.cpp's default cache type) or 'f32'.
 */
export type KvType = 'f16' | 'f32';
export const KV_TYPES: readonly KvType[] = ['f16', 'f32'];

/** Bytes one stored value takes. */
export function kvTypeBytes(t: KvType): number {
  return t === 'f16' ? 2 : 4;
}

type Store = Float32Array | Uint16Array;

/**
 * The cache of one KV head of one layer: a variable number of slots, each with a key (after RoPE), a value,
 * its original absolute position, its mass (how many original tokens it stands for) and an accumulated
 * attention score. Storage is preallocated and grows geometrically, so appending a decoded token does not
 * reallocate; `retain` compacts physically into buffers sized for the kept slots.
 *
 * Keys and values are stored as `kvType`. Under 'f16', `keys` / `values` (and `key(i)`, `keysInUse()` ...) give a
 * float32 working copy of the slots in use, made on first access, which compression methods may read and write
 * in place; the next operation on the storage (append, retain, removeAt, the backends' stored views, bytes) rounds
 * it back to f16 and drops it. So scores and merges compute in float32 while the cache holds f16.
 */
export class HeadCache {
  readonly headDim: number;
  readonly kvType: KvType;
  /** Slots in use. */
  length = 0;
  /** [capacity] original absolute positions; never renumbered. */
  positions: Int32Array;
  /** [capacity] number of original tokens each slot stands for (1 for an untouched token). */
  mass: Float32Array;
  /** [capacity] accumulated attention score (H2O's s_j), maintained by the generation session. */
  score: Float32Array;
  /**
   * Proportional attention (ToMe's; KVMerger and CaM with `proportional=true`): both backends add log(mass_j) to slot
   * j's attention logit, so a slot standing for m tokens weighs as m copies of itself. Set by the method that makes
   * the merged slots; copied by `clone`. While set, `bytes()` counts the masses too (4 bytes a slot): the forward
   * pass reads them.
   */
  proportional = false;
  /** [capacity, headDim] stored keys and values. */
  private k: Store;
  private v: Store;
  /** f16 only: float32 working copies of the slots in use, [length, headDim], while a method works on them. */
  private wk: Float32Array | undefined;
  private wv: Float32Array | undefined;

  constructor(headDim: number, capacity = 16, kvType: KvType = 'f32') {
    if (!Number.isInteger(headDim) || headDim <= 0) throw new RangeError(`headDim must be a positive integer`);
    this.headDim = headDim;
    this.kvType = kvType;
    const cap = Math.max(1, capacity);
    this.k = this.alloc(cap * headDim);
    this.v = this.alloc(cap * headDim);
    this.positions = new Int32Array(cap);
    this.mass = new Float32Array(cap);
    this.score = new Float32Array(cap);
  }

  get capacity(): number {
    return this.positions.length;
  }

  /** Keys as float32, [≥ length, headDim]: the storage itself under 'f32', the working copy under 'f16'. */
  get keys(): Float32Array {
    if (this.k instanceof Float32Array) return this.k;
    this.widen();
    return this.wk!;
  }

  /** Values as float32 (see `keys`). */
  get values(): Float32Array {
    if (this.v instanceof Float32Array) return this.v;
    this.widen();
    return this.wv!;
  }

  /** Keys of the slots in use as stored ([length, headDim], Float32Array or Uint16Array of f16 bits), no copy. */
  keysStored(): Store {
    this.narrow();
    return this.k.subarray(0, this.length * this.headDim);
  }

  /** Values of the slots in use as stored (see `keysStored`). */
  valuesStored(): Store {
    this.narrow();
    return this.v.subarray(0, this.length * this.headDim);
  }

  /** Make room for at least `slots` slots in total without losing content. */
  reserve(slots: number): void {
    if (slots <= this.capacity) return;
    this.reallocate(Math.max(slots, Math.ceil(this.capacity * 1.5)));
  }

  /** Append one slot. `key` and `value` are read from `offset` (length headDim). */
  append(key: Float32Array, value: Float32Array, position: number, keyOffset = 0, valueOffset = keyOffset): void {
    this.narrow();
    if (this.length === this.capacity) this.reserve(this.length + 1);
    const d = this.headDim;
    const at = this.length * d;
    write(this.k, at, key.subarray(keyOffset, keyOffset + d));
    write(this.v, at, value.subarray(valueOffset, valueOffset + d));
    this.positions[this.length] = position;
    this.mass[this.length] = 1;
    this.score[this.length] = 0;
    this.length++;
  }

  /**
   * Append `count` new slots at positions start, start + 1, ...: rows [count, headDim] of `keys` / `values` from
   * `offset`, given as float32 or (under 'f16') as f16 bits, which are copied as they are.
   */
  appendRows(keys: Store, values: Store, offset: number, count: number, start: number): void {
    this.narrow();
    const d = this.headDim;
    this.reserve(this.length + count);
    const at = this.length;
    write(this.k, at * d, keys.subarray(offset, offset + count * d));
    write(this.v, at * d, values.subarray(offset, offset + count * d));
    for (let t = 0; t < count; t++) {
      this.positions[at + t] = start + t;
      this.mass[at + t] = 1;
      this.score[at + t] = 0;
    }
    this.length = at + count;
  }

  /** Slot i's key as float32 (a view of the storage or of the working copy). */
  key(i: number): Float32Array {
    return this.keys.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  /** Slot i's value as float32 (see `key`). */
  value(i: number): Float32Array {
    return this.values.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  /**
   * Slot i's key into `out` as float32, without making the f16 working copy (decode-time merging reads a few slots
   * of a long head; `keys` would widen all of them and the next removeAt round them all back).
   */
  readKey(i: number, out: Float32Array): Float32Array {
    return this.readSlot(this.wk ?? this.k, i, out);
  }

  /** Slot i's value into `out` (see `readKey`). */
  readValue(i: number, out: Float32Array): Float32Array {
    return this.readSlot(this.wv ?? this.v, i, out);
  }

  /** Overwrite slot i's key and value (float32, rounded to f16 under 'f16'), without the working copy. */
  writeSlot(i: number, key: Float32Array, value: Float32Array): void {
    if (i < 0 || i >= this.length) throw new RangeError(`writeSlot: slot ${i} out of range`);
    const d = this.headDim;
    write(this.wk ?? this.k, i * d, key.subarray(0, d));
    write(this.wv ?? this.v, i * d, value.subarray(0, d));
  }

  private readSlot(src: Store, i: number, out: Float32Array): Float32Array {
    if (i < 0 || i >= this.length) throw new RangeError(`read: slot ${i} out of range`);
    const d = this.headDim;
    if (src instanceof Float32Array) out.set(src.subarray(i * d, (i + 1) * d));
    else for (let c = 0; c < d; c++) out[c] = HALF_TO_FLOAT[src[i * d + c]!]!;
    return out;
  }

  /** Keys of the slots in use as float32, [length, headDim] (a view; under 'f16' of the working copy). */
  keysInUse(): Float32Array {
    return this.keys.subarray(0, this.length * this.headDim);
  }

  /** Values of the slots in use as float32 (see `keysInUse`). */
  valuesInUse(): Float32Array {
    return this.values.subarray(0, this.length * this.headDim);
  }

  /**
   * Keep only the given slots (strictly increasing indices), in that order, and release the rest:
   * the buffers are reallocated to `kept + reserveSlots` so the memory is really returned.
   */
  retain(indices: ArrayLike<number>, reserveSlots = 0): void {
    const n = indices.length;
    for (let i = 0; i < n; i++) {
      const idx = indices[i]!;
      if (!Number.isInteger(idx) || idx < 0 || idx >= this.length) throw new RangeError(`retain: slot ${idx} out of range`);
      if (i > 0 && idx <= indices[i - 1]!) throw new RangeError('retain: indices must be strictly increasing');
    }
    this.narrow();
    const d = this.headDim;
    const cap = Math.max(1, n + reserveSlots);
    const keys = this.alloc(cap * d);
    const values = this.alloc(cap * d);
    const positions = new Int32Array(cap);
    const mass = new Float32Array(cap);
    const score = new Float32Array(cap);
    // Copy runs of consecutive slots in one go (kept sets are mostly long runs: sinks, recent window, survivors).
    for (let i = 0; i < n; ) {
      const j = indices[i]!;
      let r = 1;
      while (i + r < n && indices[i + r] === j + r) r++;
      keys.set(this.k.subarray(j * d, (j + r) * d), i * d);
      values.set(this.v.subarray(j * d, (j + r) * d), i * d);
      positions.set(this.positions.subarray(j, j + r), i);
      mass.set(this.mass.subarray(j, j + r), i);
      score.set(this.score.subarray(j, j + r), i);
      i += r;
    }
    this.k = keys;
    this.v = values;
    this.positions = positions;
    this.mass = mass;
    this.score = score;
    this.length = n;
  }

  /** Remove one slot, shifting the later ones down (decode-time eviction; no reallocation). */
  removeAt(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`removeAt: slot ${i} out of range`);
    this.narrow();
    const d = this.headDim;
    this.k.copyWithin(i * d, (i + 1) * d, this.length * d);
    this.v.copyWithin(i * d, (i + 1) * d, this.length * d);
    this.positions.copyWithin(i, i + 1, this.length);
    this.mass.copyWithin(i, i + 1, this.length);
    this.score.copyWithin(i, i + 1, this.length);
    this.length--;
  }

  /**
   * Bytes of keys and values held by the slots in use (2 bytes a value under 'f16', 4 under 'f32'), plus the
   * masses (float32, 4 bytes a slot) under proportional attention, where the forward pass needs them.
   */
  bytes(): number {
    return this.length * (this.headDim * 2 * kvTypeBytes(this.kvType) + (this.proportional ? 4 : 0));
  }

  /** log(mass) of the slots in use (proportional attention's logit bias), as float32. */
  logMass(): Float32Array {
    const out = new Float32Array(this.length);
    for (let j = 0; j < this.length; j++) out[j] = Math.log(this.mass[j]!); // a loop: 8× faster than from(…, Math.log)
    return out;
  }

  /** Whether proportional attention changes this head's logits now: set, and some slot stands for ≠ 1 token. */
  massBiased(): boolean {
    if (!this.proportional) return false;
    for (let j = 0; j < this.length; j++) if (this.mass[j] !== 1) return true;
    return false;
  }

  /** Bytes of every buffer allocated, including reserve, bookkeeping and a working copy while one exists. */
  allocatedBytes(): number {
    const work = (this.wk?.byteLength ?? 0) + (this.wv?.byteLength ?? 0);
    return this.k.byteLength + this.v.byteLength + this.positions.byteLength + this.mass.byteLength + this.score.byteLength + work;
  }

  /** A deep copy with capacity equal to the length (plus reserve). */
  clone(reserveSlots = 0): HeadCache {
    this.narrow();
    const c = new HeadCache(this.headDim, this.length + reserveSlots, this.kvType);
    const d = this.headDim;
    c.k.set(this.k.subarray(0, this.length * d));
    c.v.set(this.v.subarray(0, this.length * d));
    c.positions.set(this.positions.subarray(0, this.length));
    c.mass.set(this.mass.subarray(0, this.length));
    c.score.set(this.score.subarray(0, this.length));
    c.length = this.length;
    c.proportional = this.proportional;
    return c;
  }

  private alloc(n: number): Store {
    return this.kvType === 'f16' ? new Uint16Array(n) : new Float32Array(n);
  }

  /** f16: make the float32 working copies of the slots in use (if not there yet). */
  private widen(): void {
    if (this.wk) return;
    const n = this.length * this.headDim;
    const k = this.k as Uint16Array;
    const v = this.v as Uint16Array;
    const wk = new Float32Array(n);
    const wv = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      wk[i] = HALF_TO_FLOAT[k[i]!]!;
      wv[i] = HALF_TO_FLOAT[v[i]!]!;
    }
    this.wk = wk;
    this.wv = wv;
  }

  /** f16: round the working copies back into the storage and drop them. */
  private narrow(): void {
    if (!this.wk) return;
    write(this.k, 0, this.wk.subarray(0, Math.min(this.wk.length, this.length * this.headDim)));
    write(this.v, 0, this.wv!.subarray(0, Math.min(this.wv!.length, this.length * this.headDim)));
    this.wk = undefined;
    this.wv = undefined;
  }

  private reallocate(cap: number): void {
    this.narrow();
    const d = this.headDim;
    const keys = this.alloc(cap * d);
    keys.set(this.k.subarray(0, this.length * d));
    const values = this.alloc(cap * d);
    values.set(this.v.subarray(0, this.length * d));
    const positions = new Int32Array(cap);
    positions.set(this.positions.subarray(0, this.length));
    const mass = new Float32Array(cap);
    mass.set(this.mass.subarray(0, this.length));
    const score = new Float32Array(cap);
    score.set(this.score.subarray(0, this.length));
    this.k = keys;
    this.v = values;
    this.positions = positions;
    this.mass = mass;
    this.score = score;
  }
}

/** Writes float32 values or f16 bits into a store at `at`, converting float32 → f16 (round to nearest even) where needed. */
function write(dest: Store, at: number, src: Store): void {
  if (dest instanceof Float32Array) {
    if (src instanceof Uint16Array) {
      for (let i = 0; i < src.length; i++) dest[at + i] = HALF_TO_FLOAT[src[i]!]!;
    } else dest.set(src, at);
  } else if (src instanceof Uint16Array) dest.set(src, at);
  else for (let i = 0; i < src.length; i++) dest[at + i] = floatToHalfBits(src[i]!);
}
