// Prefill and decode tokens/s of the ort and reference backends, side by side in one run, on a random-weight model
// with the shape of a Hugging Face config.json (default: SmolLM2-135M from ../shared/data).
// Usage: npx tsx scripts/bench-engine.ts [--config FILE] [--lengths 512,2048] [--decode 32] [--threads N]
//        [--ref-prefill 16] [--ref-decode 2] [--json]
// The reference backend is far slower: it prefills only --ref-prefill tokens, and decodes --ref-decode tokens on a
// copy of the cache the ort backend prefilled (so its decode runs at the same context length).
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../src/model/model-config.js';
import { ReferenceBackend } from '../src/model/reference-backend.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { benchTokens, emptyCache, timeDecode, timePrefill, type EngineBenchRow } from '../src/bench/engine-bench.js';
import { randomWeightSource } from '../test/helpers/random-model.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    lengths: { type: 'string', default: '512,2048' },
    decode: { type: 'string', default: '32' },
    threads: { type: 'string' },
    'ref-prefill': { type: 'string', default: '16' },
    'ref-decode': { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

const configPath = resolve(values.config ?? process.env.KVMERGER_SHARED_DATA ?? '../shared/data', values.config ? '' : 'models/smollm2-135m/config.json');
if (!existsSync(configPath)) {
  console.error(`bench-engine: ${configPath} not found; pass --config path/to/config.json`);
  process.exit(1);
}
const config = fromHfConfig(JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>);
const lengths = values.lengths.split(',').map(Number);
const decodeSteps = Number(values.decode);
const threads = values.threads ? Number(values.threads) : availableParallelism();
const refPrefill = Number(values['ref-prefill']);
const refDecode = Number(values['ref-decode']);
const log = (s: string) => {
  if (!values.json) console.error(s);
};

let t0 = performance.now();
const weights = randomWeightSource(config, 1, { scale: 1 });
log(`random weights (${config.name}, F32): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
t0 = performance.now();
const ort = await createOrtBackend(weights, { threads });
const loadSeconds = (performance.now() - t0) / 1000;
const rssAfterLoad = process.memoryUsage().rss;
log(`ort graph build + session: ${loadSeconds.toFixed(1)} s, RSS ${(rssAfterLoad / 2 ** 20).toFixed(0)} MiB (random F32 weights included)`);
const reference = new ReferenceBackend(weights);
await ort.forward(benchTokens(8, config.vocabSize), emptyCache(config), { logits: 'last' }); // warm-up

const rows: EngineBenchRow[] = [];
const base = { engine: 'kvmerger' as const, model: `random ${config.name}`, weights: 'F32' };
for (const len of lengths) {
  const prompt = benchTokens(len, config.vocabSize, len);
  const cache = emptyCache(config, len + decodeSteps);
  const prefill = await timePrefill(ort, cache, prompt);
  const refCache = cache.clone(refDecode);
  const decode = await timeDecode(ort, cache, decodeSteps, config.vocabSize);
  rows.push({
    ...base,
    backend: 'ort',
    promptTokens: len,
    prefillTokens: len,
    prefillTokensPerSecond: prefill.tokensPerSecond,
    prefillCpuMsPerToken: prefill.cpuMsPerToken,
    decodeTokens: decodeSteps,
    decodeContext: len,
    decodeTokensPerSecond: decode.tokensPerSecond,
    decodeCpuMsPerToken: decode.cpuMsPerToken,
  });
  log(`ort        ${len}: prefill ${prefill.tokensPerSecond.toFixed(1)} tok/s, decode ${decode.tokensPerSecond.toFixed(1)} tok/s`);

  const refPre = refPrefill > 0 ? await timePrefill(reference, emptyCache(config), benchTokens(refPrefill, config.vocabSize, 3)) : null;
  const refDec = refDecode > 0 ? await timeDecode(reference, refCache, refDecode, config.vocabSize) : null;
  rows.push({
    ...base,
    backend: 'reference',
    promptTokens: len,
    prefillTokens: refPre ? refPrefill : 0,
    prefillTokensPerSecond: refPre?.tokensPerSecond ?? null,
    prefillCpuMsPerToken: refPre?.cpuMsPerToken ?? null,
    decodeTokens: refDecode,
    decodeContext: len,
    decodeTokensPerSecond: refDec?.tokensPerSecond ?? null,
    decodeCpuMsPerToken: refDec?.cpuMsPerToken ?? null,
  });
  log(`reference  ${len}: prefill ${refPre?.tokensPerSecond.toFixed(2)} tok/s (${refPrefill} tokens), decode ${refDec?.tokensPerSecond.toFixed(2)} tok/s`);
}
await ort.dispose();

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', threads, date: new Date().toISOString() };
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
if (values.json) {
  console.log(JSON.stringify({ machine, ortLoadSeconds: loadSeconds, rssAfterLoad, peakRssBytes, rows }));
} else {
  const f = (x: number | null) => (x === null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
  console.log(`\n${machine.cpuModel}, ${machine.cpus} cores, ${threads} threads, ${machine.date}`);
  console.log(`ort load ${loadSeconds.toFixed(1)} s; RSS after load ${(rssAfterLoad / 2 ** 20).toFixed(0)} MiB, peak ${(peakRssBytes / 2 ** 20).toFixed(0)} MiB\n`);
  console.log('| backend | prompt tokens | prefill tok/s (tokens timed) | prefill CPU ms/token | decode tok/s (tokens at context) | decode CPU ms/token |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.promptTokens} | ${f(r.prefillTokensPerSecond)} (${r.prefillTokens}) | ${f(r.prefillCpuMsPerToken)} | ` +
        `${f(r.decodeTokensPerSecond)} (${r.decodeTokens} at ${r.decodeContext}) | ${f(r.decodeCpuMsPerToken)} |`,
    );
  }
}

/** The fields of a Hugging Face Llama/Qwen2 config.json the forward pass needs. */
function fromHfConfig(j: Record<string, unknown>): ModelConfig {
  const num = (k: string, d?: number): number => {
    const v = j[k] ?? d;
    if (typeof v !== 'number') throw new Error(`${configPath}: '${k}' is missing or not a number`);
    return v;
  };
  const architecture = j.model_type === 'qwen2' ? 'qwen2' : 'llama';
  const E = num('hidden_size');
  const H = num('num_attention_heads');
  const D = num('head_dim', E / H);
  return {
    architecture,
    name: String((j._name_or_path as string | undefined) ?? configPath.split('/').at(-2) ?? 'model'),
    vocabSize: num('vocab_size'),
    embeddingLength: E,
    feedForwardLength: num('intermediate_size'),
    blockCount: num('num_hidden_layers'),
    headCount: H,
    headCountKv: num('num_key_value_heads', H),
    headDim: D,
    contextLength: num('max_position_embeddings'),
    ropeFreqBase: num('rope_theta', 10000),
    ropeStyle: architecture === 'qwen2' ? 'neox' : 'normal',
    ropeDimensionCount: D,
    ropeScaling: { type: 'none' },
    rmsNormEps: num('rms_norm_eps', 1e-6),
    tiedEmbeddings: j.tie_word_embeddings === true,
    attentionBias: architecture === 'qwen2' || j.attention_bias === true,
  };
}
