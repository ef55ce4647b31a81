// What proportional attention and KVMerger's decode-time merging cost per decode step (issue 19; docs/methods.md).
//
// 1. The ort graph's log-mass inputs: one decode step over a cache of T prompt tokens, three ways, interleaved
//    round by round (each round runs on fresh clones of the same prefilled cache): a graph built without the inputs
//    (logMass: false), the default graph fed one broadcast 0 (no slot's mass differs from 1), and the default graph
//    fed log(mass) of every slot (a proportional cache with masses ≠ 1).
// 2. The decode policies' own work per step (afterDecodeStep, after the forward pass): H2O's eviction against
//    KVMerger's merge on the tail, on the same cache held at its budget.
//
// Usage: npx tsx scripts/proportional-cost.ts [--model FILE] [--tokens 2048] [--rounds 60] [--threads 1]
import { parseArgs } from 'node:util';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { loadModel } from '../src/model/load-model.js';
import { KVCache } from '../src/cache/kv-cache.js';
import { prepareCompression } from '../src/compress/compress-cache.js';
import { Rng } from '../src/util/rng.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, tokens: { type: 'string' }, rounds: { type: 'string' }, threads: { type: 'string' } } });
const T = Number(values.tokens ?? 2048);
const rounds = Number(values.rounds ?? 60);
const threads = Number(values.threads ?? 1);

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

async function main(): Promise<void> {
  const model = await loadModel(values.model, { threads });
  const c = model.config;
  const plain = await createOrtBackend(model.weights, { threads, kvType: model.backend.kvType, logMass: false });
  const ids = Int32Array.from({ length: T }, (_, i) => 1 + ((i * 7919) % (c.vocabSize - 1)));
  const base = new KVCache(c.blockCount, c.headCountKv, c.headDim, T + 4, model.backend.kvType);
  await model.backend.forward(ids, base, { logits: 'last' });
  const rng = new Rng(1);
  const prop = base.clone(4);
  for (const l of prop.layers) for (const h of l.heads) {
    h.proportional = true;
    for (let j = 0; j < h.length; j++) h.mass[j] = 1 + Math.floor(rng.next() * 4);
  }
  // blocks of `rounds` steps per configuration, the three configurations twice in turn (A B C A B C): a block keeps
  // the allocator and caches in one state; its clone is made outside the timed call
  const configs: [string, typeof plain, KVCache][] = [['no log-mass inputs', plain, base], ['log-mass inputs, fed one 0', model.backend, base], ['log-mass inputs, fed log(mass)', model.backend, prop]];
  const times: Record<string, number[]> = {};
  const tok = Int32Array.of(5);
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, be, src] of configs) {
      for (let r = 0; r < rounds; r++) {
        const cc = src.clone(2);
        const t0 = performance.now();
        await be.forward(tok, cc, { logits: 'last' });
        (times[name] ??= []).push(performance.now() - t0);
      }
    }
  }
  const t0 = performance.now();
  for (let r = 0; r < 100; r++) for (const l of prop.layers) for (const h of l.heads) h.logMass();
  const logMs = (performance.now() - t0) / 100;
  console.log(`decode step over ${T} cached tokens (${c.blockCount} layers × ${c.headCountKv} KV heads), median of ${2 * rounds}:`);
  for (const [name, xs] of Object.entries(times)) console.log(`  ${name.padEnd(32)} ${median(xs).toFixed(3)} ms`);
  console.log(`  of which log(mass) of every slot (HeadCache.logMass, all heads): ${logMs.toFixed(3)} ms`);

  // decode policies: the cache held at 50% of T, one new slot per step
  const budget = 0.5;
  for (const [method, options] of [['h2o', { when: 'decode' }], ['kvmerger', { when: 'decode', valueScale: 'none' }], ['kvmerger', { when: 'decode', valueScale: 'none', proportional: 'true' }], ['kvmerger-prop', { when: 'decode' }]] as const) {
    const cache = base.clone(rounds + 4);
    const prep = prepareCompression({ method, options, budget: { ratio: budget }, promptLength: T, seed: 0 });
    const stats = { columnSums: cache.layers.map(() => Array.from({ length: c.headCount }, () => Float32Array.from({ length: T }, () => rng.next()))) };
    prep.compress(cache, stats);
    const policy = prep.decodePolicy()!;
    const ms: number[] = [];
    const k = new Float32Array(c.headDim);
    for (let s = 0; s < rounds; s++) {
      for (const l of cache.layers) for (const h of l.heads) {
        for (let i = 0; i < c.headDim; i++) k[i] = rng.normal();
        h.append(k, k, T + s);
      }
      cache.nextPosition = T + s + 1;
      const lastRow = cache.layers.map((l) => Array.from({ length: c.headCount }, (_, q) => Float32Array.from({ length: l.heads[Math.floor(q / (c.headCount / c.headCountKv))]!.length }, () => rng.next() / T)));
      const t0 = performance.now();
      policy.afterDecodeStep(cache, { lastRow });
      ms.push(performance.now() - t0);
    }
    console.log(`  policy ${method} ${JSON.stringify(options)}: ${median(ms).toFixed(3)} ms a step (cache at ${Math.floor(budget * T)} slots a head)`);
  }
  await plain.dispose();
  await model.backend.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
