/**
 * The shapes of a model file's standard tensors checked against its configuration before any forward pass: a
 * damaged tensor table (a dimension changed) is one KvError naming the tensor, the shape found and the one the
 * configuration implies, instead of an error deep in a matrix product. Tensors the check does not know (fused
 * q/k/v, norms of newer architectures, RoPE factors) are left to the backends.
 */
import type { ModelConfig } from '../core/model-config.js';
import { KvError } from '../util/errors.js';

interface ShapeSource {
  tensorNames(): string[];
  shapeOf(name: string): number[];
  has(name: string): boolean;
}

export function checkTensorShapes(file: ShapeSource, config: ModelConfig, where: string): void {
  const E = config.embeddingLength;
  const V = config.vocabSize;
  const F = config.feedForwardLength;
  const q = config.headCount * config.headDim;
  const kv = config.headCountKv * config.headDim;
  const fixed: Record<string, number[][]> = {
    'token_embd.weight': [[V, E]],
    'output.weight': [[V, E]],
    'output_norm.weight': [[E]],
  };
  const perLayer = (part: string, layer: number): number[][] | undefined => {
    switch (part) {
      case 'attn_norm':
      case 'ffn_norm':
        return [[E]];
      case 'attn_q':
        return [[q, E]];
      case 'attn_k':
      case 'attn_v':
        return [[kv, E]];
      case 'attn_output':
        return [[E, q]];
      case 'ffn_gate':
        return [[F, E]];
      case 'ffn_down':
        return [[E, F]];
      case 'ffn_up':
        // gate and up fused into one (phi3) when the layer has no ffn_gate
        return file.has(`blk.${layer}.ffn_gate.weight`) ? [[F, E]] : [[F, E], [2 * F, E]];
      default:
        return undefined;
    }
  };
  for (const name of file.tensorNames()) {
    let want: number[][] | undefined = fixed[name];
    const m = /^blk\.(\d+)\.([a-z_]+)\.weight$/.exec(name);
    if (m) {
      const layer = Number(m[1]);
      if (layer >= config.blockCount) continue;
      want = perLayer(m[2]!, layer);
    }
    if (!want) continue;
    const got = file.shapeOf(name);
    const same = (w: number[]) => w.length === got.length && w.every((x, i) => x === got[i]);
    // a vector may be stored as [1, n] or [n]
    const flat = (w: number[]) => w.length === 1 && got.reduce((a, b) => a * b, 1) === w[0] && got.filter((x) => x !== 1).length <= 1;
    if (!want.some((w) => same(w) || flat(w))) {
      throw new KvError(
        `${where}: tensor '${name}' has shape [${got.join(', ')}] but the model's configuration implies [${want[0]!.join(', ')}]; the file is damaged or its metadata does not match its weights`,
      );
    }
  }
}
