/**
 * Cosine and sine tables for the RoPE angles of `count` consecutive positions from `start`: angle = position ·
 * invFreq[i], computed in float64 exactly as the reference's `applyRope` does, then stored as float32 for the graph.
 * Returns [count + identityRows, invFreq.length] each, multiplied by `mscale` (LongRoPE's attention factor; 1
 * otherwise); the `identityRows` after the positions' rows hold angle 0 unscaled (cos 1, sin 0), which rotates
 * nothing (the graph sends the value heads there).
 */
export function ropeTables(start: number, count: number, invFreq: Float64Array, mscale = 1, identityRows = 0): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array((count + identityRows) * half);
  const sin = new Float32Array((count + identityRows) * half);
  cos.fill(1, count * half);
  for (let t = 0; t < count; t++) {
    const p = start + t;
    for (let i = 0; i < half; i++) {
      const angle = p * invFreq[i]!;
      cos[t * half + i] = Math.cos(angle) * mscale;
      sin[t * half + i] = Math.sin(angle) * mscale;
    }
  }
  return { cos, sin };
}
