import { blockTensor, type WeightSource } from '../core/weight-source.js';

/**
 * A WeightSource that presents fused projections under the separate canonical names, so both forward passes read one
 * layout:
 * - `blk.{i}.attn_qkv.weight` / `.bias` (llama.cpp's create_tensor_qkv: rows q, then k, then v; phi3 and any file
 *   that fuses them) → `attn_q`, `attn_k`, `attn_v`;
 * - phi3's `blk.{i}.ffn_up.weight` of 2·F rows and no `ffn_gate` (llama.cpp's SwiGLU: the first F rows are the
 *   gate, activated, the last F the up projection) → `ffn_gate`, `ffn_up`.
 * Row splits are views of the fused tensor (no copy) and `readBytes` slices whole rows, which stay whole quantised
 * blocks. A source with nothing fused is returned as it is.
 */
export function splitFusedWeights(ws: WeightSource): WeightSource {
  const c = ws.config;
  const parts = new Map<string, { fused: string; row0: number; rows: number }>();
  const qDim = c.headCount * c.headDim;
  const kvDim = c.headCountKv * c.headDim;
  for (let b = 0; b < c.blockCount; b++) {
    const t = (p: string) => blockTensor(b, p);
    for (const kind of ['weight', 'bias']) {
      const fused = t(`attn_qkv.${kind}`);
      if (!ws.has(fused) || ws.has(t(`attn_q.${kind}`))) continue;
      parts.set(t(`attn_q.${kind}`), { fused, row0: 0, rows: qDim });
      parts.set(t(`attn_k.${kind}`), { fused, row0: qDim, rows: kvDim });
      parts.set(t(`attn_v.${kind}`), { fused, row0: qDim + kvDim, rows: kvDim });
    }
    const up = t('ffn_up.weight');
    if (!ws.has(t('ffn_gate.weight')) && ws.has(up) && ws.shapeOf(up)[0] === 2 * c.feedForwardLength) {
      parts.set(t('ffn_gate.weight'), { fused: up, row0: 0, rows: c.feedForwardLength });
      parts.set(up, { fused: up, row0: c.feedForwardLength, rows: c.feedForwardLength });
    }
  }
  if (parts.size === 0) return ws;
  const rowLength = (fused: string) => {
    const s = ws.shapeOf(fused);
    return s.length === 1 ? 1 : s.slice(1).reduce((a, b) => a * b, 1);
  };
  const source: WeightSource = {
    config: c,
    has: (name) => parts.has(name) || ws.has(name),
    get: (name) => {
      const p = parts.get(name);
      if (!p) return ws.get(name);
      const n = rowLength(p.fused);
      return ws.get(p.fused).subarray(p.row0 * n, (p.row0 + p.rows) * n);
    },
    typeOf: (name) => ws.typeOf(parts.get(name)?.fused ?? name),
    shapeOf: (name) => {
      const p = parts.get(name);
      if (!p) return ws.shapeOf(name);
      const s = ws.shapeOf(p.fused);
      return [p.rows, ...s.slice(1)];
    },
  };
  if (ws.readInto) {
    const readInto = ws.readInto.bind(ws);
    source.readInto = (name, dest) => {
      if (!parts.has(name)) return readInto(name, dest);
      dest.set(source.get(name));
    };
  }
  if (ws.readBytes) {
    const readBytes = ws.readBytes.bind(ws);
    source.readBytes = (name) => {
      const p = parts.get(name);
      if (!p) return readBytes(name);
      const all = readBytes(p.fused);
      const rows = ws.shapeOf(p.fused)[0]!;
      const bytesPerRow = all.length / rows;
      return all.subarray(p.row0 * bytesPerRow, (p.row0 + p.rows) * bytesPerRow);
    };
  }
  return source;
}

