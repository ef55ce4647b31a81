/**
 * A small seeded pseudo-random generator: mulberry32 (Tommy Ettinger's 32-bit generator, public domain), a 32-bit
 * state advanced by a Weyl sequence and mixed by two multiply-xorshift rounds. Period 2^32, fast, and identical on
 * every platform, which is all sampling and test fixtures need (not cryptographic).
 */
export class Rng {
  private state: number;

  /** Any number works as a seed; it is reduced to 32 bits (non-integers are hashed through their bits). */
  constructor(seed: number) {
    this.state = seedTo32(seed);
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float uniformly distributed in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A standard normal sample (Box–Muller; one of the pair is discarded for simplicity). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function seedTo32(seed: number): number {
  if (Number.isInteger(seed)) return Number(BigInt.asUintN(32, BigInt(seed)));
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, seed);
  return (buf.getUint32(0) ^ buf.getUint32(4)) >>> 0;
}
