/**
 * The cache of one KV head of one layer: a variable number of slots, each with a key (after RoPE), a value,
 * its original absolute position, its mass (how many original tokens it stands for) and an accumulated
 * attention score. Storage is preallocated and grows geometrically, so appending a decoded token does not
 * reallocate; `retain` compacts physically into buffers sized for the kept slots.
 */
export class HeadCache {
  readonly headDim: number;
  /** Slots in use. */
  length = 0;
  /** [capacity, headDim] */
  keys: Float32Array;
  /** [capacity, headDim] */
  values: Float32Array;
  /** [capacity] original absolute positions; never renumbered. */
  positions: Int32Array;
  /** [capacity] number of original tokens each slot stands for (1 for an untouched token). */
  mass: Float32Array;
  /** [capacity] accumulated attention score (H2O's s_j), maintained by the generation session. */
  score: Float32Array;

  constructor(headDim: number, capacity = 16) {
    if (!Number.isInteger(headDim) || headDim <= 0) throw new RangeError(`headDim must be a positive integer`);
    this.headDim = headDim;
    const cap = Math.max(1, capacity);
    this.keys = new Float32Array(cap * headDim);
    this.values = new Float32Array(cap * headDim);
    this.positions = new Int32Array(cap);
    this.mass = new Float32Array(cap);
    this.score = new Float32Array(cap);
  }

  get capacity(): number {
    return this.positions.length;
  }

  /** Make room for at least `slots` slots in total without losing content. */
  reserve(slots: number): void {
    if (slots <= this.capacity) return;
    this.reallocate(Math.max(slots, Math.ceil(this.capacity * 1.5)));
  }

  /** Append one slot. `key` and `value` are read from `offset` (length headDim). */
  append(key: Float32Array, value: Float32Array, position: number, keyOffset = 0, valueOffset = keyOffset): void {
    if (this.length === this.capacity) this.reserve(this.length + 1);
    const d = this.headDim;
    const at = this.length * d;
    this.keys.set(key.subarray(keyOffset, keyOffset + d), at);
    this.values.set(value.subarray(valueOffset, valueOffset + d), at);
    this.positions[this.length] = position;
    this.mass[this.length] = 1;
    this.score[this.length] = 0;
    this.length++;
  }

  /** View of slot i's key (no copy). */
  key(i: number): Float32Array {
    return this.keys.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  /** View of slot i's value (no copy). */
  value(i: number): Float32Array {
    return this.values.subarray(i * this.headDim, (i + 1) * this.headDim);
  }

  /** Keys of the slots in use, [length, headDim], as a view (no copy). */
  keysInUse(): Float32Array {
    return this.keys.subarray(0, this.length * this.headDim);
  }

  /** Values of the slots in use, [length, headDim], as a view (no copy). */
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
    const d = this.headDim;
    const cap = Math.max(1, n + reserveSlots);
    const keys = new Float32Array(cap * d);
    const values = new Float32Array(cap * d);
    const positions = new Int32Array(cap);
    const mass = new Float32Array(cap);
    const score = new Float32Array(cap);
    // Copy runs of consecutive slots in one go (kept sets are mostly long runs: sinks, recent window, survivors).
    for (let i = 0; i < n; ) {
      const j = indices[i]!;
      let r = 1;
      while (i + r < n && indices[i + r] === j + r) r++;
      keys.set(this.keys.subarray(j * d, (j + r) * d), i * d);
      values.set(this.values.subarray(j * d, (j + r) * d), i * d);
      positions.set(this.positions.subarray(j, j + r), i);
      mass.set(this.mass.subarray(j, j + r), i);
      score.set(this.score.subarray(j, j + r), i);
      i += r;
    }
    this.keys = keys;
    this.values = values;
    this.positions = positions;
    this.mass = mass;
    this.score = score;
    this.length = n;
  }

  /** Remove one slot, shifting the later ones down (decode-time eviction; no reallocation). */
  removeAt(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`removeAt: slot ${i} out of range`);
    const d = this.headDim;
    this.keys.copyWithin(i * d, (i + 1) * d, this.length * d);
    this.values.copyWithin(i * d, (i + 1) * d, this.length * d);
    this.positions.copyWithin(i, i + 1, this.length);
    this.mass.copyWithin(i, i + 1, this.length);
    this.score.copyWithin(i, i + 1, this.length);
    this.length--;
  }

  /** Bytes of keys and values held by the slots in use (4 bytes per value). */
  bytes(): number {
    return this.length * this.headDim * 2 * 4;
  }

  /** Bytes of every buffer allocated, including reserve and bookkeeping. */
  allocatedBytes(): number {
    return this.keys.byteLength + this.values.byteLength + this.positions.byteLength + this.mass.byteLength + this.score.byteLength;
  }

  /** A deep copy with capacity equal to the length (plus reserve). */
  clone(reserveSlots = 0): HeadCache {
    const c = new HeadCache(this.headDim, this.length + reserveSlots);
    const d = this.headDim;
    c.keys.set(this.keys.subarray(0, this.length * d));
    c.values.set(this.values.subarray(0, this.length * d));
    c.positions.set(this.positions.subarray(0, this.length));
    c.mass.set(this.mass.subarray(0, this.length));
    c.score.set(this.score.subarray(0, this.length));
    c.length = this.length;
    return c;
  }

  private reallocate(cap: number): void {
    const d = this.headDim;
    const keys = new Float32Array(cap * d);
    keys.set(this.keys.subarray(0, this.length * d));
    const values = new Float32Array(cap * d);
    values.set(this.values.subarray(0, this.length * d));
    const positions = new Int32Array(cap);
    positions.set(this.positions.subarray(0, this.length));
    const mass = new Float32Array(cap);
    mass.set(this.mass.subarray(0, this.length));
    const score = new Float32Array(cap);
    score.set(this.score.subarray(0, this.length));
    this.keys = keys;
    this.values = values;
    this.positions = positions;
    this.mass = mass;
    this.score = score;
  }
}
