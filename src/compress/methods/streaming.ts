import type { HeadCache } from '../../cache/head-cache.js';
import { NO_STATS, type CompressionMethod, type DecodePolicy } from '../compression-method.js';
import type { OptionSpec } from '../method-options.js';
import { range } from '../top-indices.js';

const OPTIONS: OptionSpec[] = [
  { name: 'sink', type: 'integer', min: 0, default: 4, description: 'number of first tokens (attention sinks) always kept' },
  { name: 'when', type: 'enum', values: ['prefill', 'decode'], default: 'prefill', description: 'compress once after prefill, or also keep the budget at every decode step' },
];

/** Slots StreamingLLM keeps in a head of n slots with budget b: the first min(sink, b) and the most recent rest. */
export function streamingKeep(n: number, budget: number, sink: number): number[] {
  if (n <= budget) return range(0, n);
  const s = Math.min(sink, budget);
  return [...range(0, s), ...range(n - (budget - s), n)];
}

/** StreamingLLM: keep the first `sink` tokens and the most recent ones; drop the middle. */
export const streamingMethod: CompressionMethod = {
  name: 'streaming',
  description: 'StreamingLLM: keeps the first `sink` tokens and the most recent tokens, drops the middle',
  options: OPTIONS,
  statsRequest: () => NO_STATS,
  compress({ cache, options, layerBudgets, reserveSlots }) {
    const sink = Number(options['sink']);
    cache.layers.forEach((layer, l) => {
      for (const head of layer.heads) {
        if (head.length > layerBudgets[l]!) head.retain(streamingKeep(head.length, layerBudgets[l]!, sink), reserveSlots);
      }
    });
  },
  decodePolicy({ options, layerBudgets }) {
    if (options['when'] !== 'decode') return undefined;
    const sink = Number(options['sink']);
    let evicted = 0;
    const policy: DecodePolicy = {
      stats: NO_STATS,
      afterDecodeStep(cache) {
        cache.layers.forEach((layer, l) => {
          const b = layerBudgets[l]!;
          for (const head of layer.heads) evicted += evictOldest(head, b, Math.min(sink, b));
        });
      },
      get evicted() {
        return evicted;
      },
    };
    return policy;
  },
};

function evictOldest(head: HeadCache, budget: number, sink: number): number {
  let n = 0;
  while (head.length > budget) {
    head.removeAt(sink);
    n++;
  }
  return n;
}
