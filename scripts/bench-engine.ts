// Prefill and decode tokens/s of the ort and reference backends and of llama.cpp (node-llama-cpp, when installed),
// side by side in one run, on one random-weight F32 GGUF written by our GGUF writer with the shape of a Hugging Face
// config.json (default: SmolLM2-135M from ../shared/data) and, when one of ../shared/data/tokenizer-tests has the
// same vocabulary size, that real vocabulary (llama.cpp needs one to load the file).
// Usage: npx tsx scripts/bench-engine.ts [--config FILE] [--lengths 512,2048] [--decode 32] [--threads N]
//        [--ref-prefill 16] [--ref-decode 2] [--no-llama-cpp] [--json]
// The reference backend is far slower: it prefills only --ref-prefill tokens, and decodes --ref-decode tokens on a
// copy of the cache the ort backend prefilled (so its decode runs at the same context length).
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../src/core/model-config.js';
import { ReferenceBackend } from '../src/model/reference-backend.js';
import { createOrtBackend } from '../src/model/ort-backend.js';
import { configFromHf } from '../src/bench/bench-models.js';
import { benchTokens, emptyCache, timeDecode, timePrefill, type EngineBenchRow } from '../src/bench/engine-bench.js';
import { openGGUF } from '../src/formats/gguf-reader.js';
import { gguf, typedMetadata, writeGGUF, type GGUFTensorInput, type MetadataInput } from '../src/formats/gguf-writer.js';
import { openModelFile } from '../src/formats/open-model-file.js';
import { randomWeightSource } from '../test/helpers/random-model.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    lengths: { type: 'string', default: '512,2048' },
    decode: { type: 'string', default: '32' },
    threads: { type: 'string' },
    'ref-prefill': { type: 'string', default: '16' },
    'ref-decode': { type: 'string', default: '2' },
    'no-llama-cpp': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const configPath = resolve(values.config ?? process.env.KVMERGER_SHARED_DATA ?? '../shared/data', values.config ? '' : 'models/smollm2-135m/config.json');
if (!existsSync(configPath)) {
  console.error(`bench-engine: ${configPath} not found; pass --config path/to/config.json`);
  process.exit(1);
}
const hf = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
const config = configFromHf(hf, String((hf._name_or_path as string | undefined) ?? configPath.split('/').at(-2) ?? 'model'), configPath);
const lengths = values.lengths.split(',').map(Number);
const decodeSteps = Number(values.decode);
const threads = values.threads ? Number(values.threads) : availableParallelism();
const refPrefill = Number(values['ref-prefill']);
const refDecode = Number(values['ref-decode']);
const log = (s: string) => {
  if (!values.json) console.error(s);
};

const sharedRoot = resolve(process.env.KVMERGER_SHARED_DATA ?? '../shared/data');
const dir = mkdtempSync(join(tmpdir(), 'kvmerger-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let t0 = performance.now();
const ggufPath = join(dir, 'model.gguf');
const vocabFile = writeRandomGGUF(ggufPath, config);
log(`random F32 GGUF (${config.name}${vocabFile ? `, vocabulary of ${vocabFile}` : ', no vocabulary'}): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const weights = openModelFile(ggufPath);
t0 = performance.now();
const ort = await createOrtBackend(weights, { threads });
const loadSeconds = (performance.now() - t0) / 1000;
const rssAfterLoad = process.memoryUsage().rss;
log(`ort graph build + session: ${loadSeconds.toFixed(1)} s, RSS ${(rssAfterLoad / 2 ** 20).toFixed(0)} MiB`);
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

  if (refPrefill <= 0 && refDecode <= 0) continue;
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
  log(`reference  ${len}: prefill ${refPre?.tokensPerSecond.toFixed(2) ?? '—'} tok/s (${refPrefill} tokens), decode ${refDec?.tokensPerSecond.toFixed(2) ?? '—'} tok/s`);
}
await ort.dispose();
weights.close();

interface LlamaRow { promptTokens: number; prefill: number; decode: number }
const llamaRows: LlamaRow[] = [];
let llamaNote = '';
if (values['no-llama-cpp']) llamaNote = 'llama.cpp: skipped (--no-llama-cpp)';
else if (!vocabFile) llamaNote = `llama.cpp: skipped (no vocabulary of ${config.vocabSize} tokens in ${sharedRoot}/tokenizer-tests)`;
else {
  let mod: typeof import('node-llama-cpp') | undefined;
  try {
    mod = await import('node-llama-cpp');
  } catch {
    llamaNote = 'llama.cpp: skipped (node-llama-cpp is not installed)';
  }
  if (mod) {
    const llama = await mod.getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: ggufPath, gpuLayers: 0 });
    // F32 KV cache like ours; llama.cpp's own choice of attention kernel.
    const context = await model.createContext({
      contextSize: Math.max(...lengths) + decodeSteps + 16,
      batchSize: 512,
      threads,
      sequences: 1,
      experimentalKvCacheKeyType: 'F32',
      experimentalKvCacheValueType: 'F32',
    });
    for (const len of lengths) {
      const sequence = context.getSequence();
      const prompt = Array.from(benchTokens(len, config.vocabSize, len));
      let t = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(prompt as never);
      const prefill = len / ((performance.now() - t) / 1000);
      const it = sequence.evaluate([benchTokens(1, config.vocabSize, 7)[0]!] as never, { temperature: 0 });
      t = performance.now();
      for (let i = 0; i < decodeSteps; i++) await it.next();
      const decode = decodeSteps / ((performance.now() - t) / 1000);
      await it.return();
      sequence.dispose();
      llamaRows.push({ promptTokens: len, prefill, decode });
      log(`llama.cpp  ${len}: prefill ${prefill.toFixed(1)} tok/s, decode ${decode.toFixed(1)} tok/s`);
    }
    await context.dispose();
    await model.dispose();
    llamaNote = `llama.cpp: node-llama-cpp ${llama.buildType} build, ${threads} threads, F32 KV cache`;
  }
}
log(llamaNote);

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', threads, date: new Date().toISOString() };
const peakRssBytes = process.resourceUsage().maxRSS * 1024;
if (values.json) {
  console.log(JSON.stringify({ machine, ortLoadSeconds: loadSeconds, rssAfterLoad, peakRssBytes, rows, llamaCpp: llamaRows, llamaNote }));
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
  for (const r of llamaRows) console.log(`| llama.cpp | ${r.promptTokens} | ${f(r.prefill)} (${r.promptTokens}) | — | ${f(r.decode)} (${decodeSteps} at ${r.promptTokens}) | — |`);
  if (llamaRows.length > 0) {
    console.log('\n| prompt tokens | ort / llama.cpp prefill | ort / llama.cpp decode |\n|---:|---:|---:|');
    for (const r of llamaRows) {
      const o = rows.find((x) => x.backend === 'ort' && x.promptTokens === r.promptTokens)!;
      console.log(`| ${r.promptTokens} | ${(o.prefillTokensPerSecond! / r.prefill).toFixed(2)} | ${(o.decodeTokensPerSecond! / r.decode).toFixed(2)} |`);
    }
  }
  console.log(`\n${llamaNote}`);
}

/**
 * Write random F32 weights with `config`'s shape to a GGUF (llama metadata), with the tokenizer metadata of a
 * ../shared/data/tokenizer-tests vocabulary of the same size when there is one. Returns that vocabulary's file name.
 */
function writeRandomGGUF(path: string, config: ModelConfig): string | undefined {
  const arch = config.architecture;
  const meta = new Map<string, MetadataInput>([
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(`random ${config.name}`)],
    [`${arch}.context_length`, gguf.u32(config.contextLength)],
    [`${arch}.embedding_length`, gguf.u32(config.embeddingLength)],
    [`${arch}.block_count`, gguf.u32(config.blockCount)],
    [`${arch}.feed_forward_length`, gguf.u32(config.feedForwardLength)],
    [`${arch}.attention.head_count`, gguf.u32(config.headCount)],
    [`${arch}.attention.head_count_kv`, gguf.u32(config.headCountKv)],
    [`${arch}.rope.dimension_count`, gguf.u32(config.ropeDimensionCount)],
    [`${arch}.rope.freq_base`, gguf.f32(config.ropeFreqBase)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(config.rmsNormEps)],
  ]);
  let vocabName: string | undefined;
  const vocabDir = join(sharedRoot, 'tokenizer-tests');
  for (const name of existsSync(vocabDir) ? ['ggml-vocab-starcoder.gguf', 'ggml-vocab-gpt-2.gguf', 'ggml-vocab-llama-spm.gguf'] : []) {
    if (!existsSync(join(vocabDir, name))) continue;
    const vocab = openGGUF(join(vocabDir, name));
    try {
      const tokens = vocab.metadata.get('tokenizer.ggml.tokens') as string[];
      if (tokens.length !== config.vocabSize) continue;
      for (const [k, v] of typedMetadata(vocab)) if (k.startsWith('tokenizer.')) meta.set(k, v);
      vocabName = name;
      break;
    } finally {
      vocab.close();
    }
  }
  const ws = randomWeightSource(config, 1);
  const names = ['token_embd.weight', 'output_norm.weight', ...(config.tiedEmbeddings ? [] : ['output.weight'])];
  for (let b = 0; b < config.blockCount; b++) {
    for (const p of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down']) names.push(`blk.${b}.${p}.weight`);
    if (config.attentionBias) for (const p of ['attn_q', 'attn_k', 'attn_v']) names.push(`blk.${b}.${p}.bias`);
  }
  const tensors: GGUFTensorInput[] = names.map((name) => ({ name, dims: [...ws.shapeOf(name)].reverse(), type: 'F32', data: ws.get(name) }));
  writeGGUF(path, { metadata: meta, tensors });
  return vocabName;
}
