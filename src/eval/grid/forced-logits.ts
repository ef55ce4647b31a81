import type { KVCache } from '../../cache/kv-cache.js';
import type { ForwardBackend } from '../../model/backend.js';
import { checkLogits } from '../../generate/finite-logits.js';

/** Feeds `ids` through `cache` in chunks (teacher forcing) and returns every position's logits: [ids.length][vocab]. */
export async function forcedLogits(backend: ForwardBackend, cache: KVCache, ids: ArrayLike<number>, chunkSize: number): Promise<Float32Array[]> {
  const rows: Float32Array[] = [];
  const tokens = Int32Array.from(ids);
  for (let off = 0; off < tokens.length; off += chunkSize) {
    const n = Math.min(tokens.length, off + chunkSize) - off;
    const r = await backend.forward(tokens.subarray(off, off + n), cache, { logits: 'all' });
    checkLogits(r.logits, cache.nextPosition - n, n);
    const vocab = r.logits.length / n;
    for (let i = 0; i < n; i++) rows.push(r.logits.slice(i * vocab, (i + 1) * vocab));
  }
  return rows;
}
