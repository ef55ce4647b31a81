import { basename } from 'node:path';
import { checkPngSupport, analysisJson, writeAnalysis, type AnalysisResult } from '../../analysis/analysis-output.js';
import { layerRatioSummaryLines, type LayerRatioJson } from '../../analysis/layer-ratio-analysis.js';
import { parseIndexList } from '../../analysis/layer-selection.js';
import { neighbourSummaryLines, type NeighbourJson } from '../../analysis/neighbour-analysis.js';
import { runLayerRatios, runNeighbours, runSimilarity, type RunContext } from '../../analysis/run-analysis.js';
import { fmt, pct, MAX_SIMILARITY_TOKENS, type SimilarityJson } from '../../analysis/similarity-analysis.js';
import { KvError } from '../../util/errors.js';
import { loadModelFromArgs, parseModelArgs } from '../model-args.js';
import { drawnSeedNote, parseSeed } from '../seed.js';
import { parseNumberFlag } from '../number-flag.js';
import { DATA_OPTION, LENGTH_OPTION, MODEL_OPTIONS, QUANTIZE_OPTION, OUTPUT_OPTIONS, OUT_OPTION, PROMPT_OPTIONS, SEED_OPTION, didYouMean, parseOptions, type OptionTable } from '../options.js';

export const summary = "the paper's observations on any model: key/value similarity maps, neighbours, per-layer merge ratios";

export const help = `Usage: kvmerger analyze similarity|neighbours|layer-ratios [-m FILE] -o DIR [options]

Regenerates the KVMerger paper's observations from the cache a model really fills (keys after RoPE,
values), for keys and for values. Writes DIR/<analysis>.json and one SVG per chart (PNG too with
--png).

  similarity     Figure 2: token × token cosine maps for chosen layers and KV heads (one prompt)
  neighbours     Figure 3a: mean cosine to the neighbour at offsets ±1…±k, per layer (over heads and
                 tokens)
  layer-ratios   Figure 3b: KVMerger's per-layer kept ratio at a fixed threshold over many samples
                 of several tasks, its spread, and how well the per-layer ratios of samples and
                 tasks correlate

Model:
  -m, --model FILE          GGUF file or llama2.c checkpoint; default: the built-in model in models/
  --tokenizer FILE          instead of the model's own: tokenizer.bin, tokenizer.json or GGUF
  --backend ort|reference   ort: onnxruntime (default); reference: plain TypeScript, slow
  -t, --threads N           onnxruntime threads
  --precision int8|fp32     products with quantised weights: int8 (default, as llama.cpp) or fp32
  --kv-type f16|f32         how the KV cache stores keys and values (default f16, as llama.cpp)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder's weights quantised as they load

Text (similarity, neighbours):
  --length N                tokens in the cache, BOS included (default 512; at most the context − 1;
                            similarity maps at most ${MAX_SIMILARITY_TOKENS}); also --tokens
  -f, --prompt-file FILE    analyse this text (its first N tokens) instead of held-out Gutenberg
                            prose; - reads stdin
  --samples N               neighbours: Gutenberg passages averaged over (default 4)
  -s, --seed S              picks the passages and task samples (default 0; -1: random, printed)
  --data DIR                the offline data folder (default ../shared/data or KVMERGER_SHARED_DATA)

similarity:
  --layers LIST             layers: integers, first, mid, last, all (default 0,mid,last)
  --heads LIST              KV heads, same syntax (default 0)
  --threshold X             "highly similar" threshold of the summary shares (default 0.9)

neighbours:
  --k K                     largest offset (default 8)

layer-ratios:
  --tasks LIST              task names (default: fidelity [Gutenberg prose], passkey,
                            ruler-niah_single_2, ruler-fwe, ruler-vt, and longbench-multi_news when
                            <data>/longbench has it); 'kvmerger eval --help' lists tasks
  --samples N               samples per task (default 20)
  --length N                prompt length in tokens as the tasks count them (default min(1024,
                            context − 8))
  --epsilon E               merge threshold: adjacent cosine > E merges (default 0.75)
  --budget B                reserve KVMerger's faithful shares of budget B (recent and
                            high-attention tokens); default: no reserved tokens
  --recent-ratio R          share of most recent tokens reserved (overrides --budget's)
  --attn-ratio A            share of highest-attention tokens reserved (overrides --budget's)
  --sink-tokens S           first tokens reserved (default 0)

Output:
  -o, --out DIR             folder for the JSON and charts (created)
  --png                     also write PNGs (needs a font; see docs/analysis.md)
  --json                    print the analysis JSON on stdout instead of the summary lines
  -q, --quiet               nothing on stderr but errors (no progress, no notes)

Example:
  kvmerger analyze similarity -o runs/sim --png`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  ...LENGTH_OPTION,
  'prompt-file': PROMPT_OPTIONS['prompt-file'],
  samples: { type: 'string' },
  ...SEED_OPTION,
  ...DATA_OPTION,
  layers: { type: 'string' },
  heads: { type: 'string' },
  threshold: { type: 'string' },
  k: { type: 'string' },
  tasks: { type: 'string' },
  epsilon: { type: 'string' },
  budget: { type: 'string' },
  'recent-ratio': { type: 'string' },
  'attn-ratio': { type: 'string' },
  'sink-tokens': { type: 'string' },
  ...OUT_OPTION,
  png: { type: 'boolean' },
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

const ANALYSES = ['similarity', 'neighbours', 'layer-ratios'] as const;
type AnalysisName = (typeof ANALYSES)[number];

const ONLY: Record<string, AnalysisName[]> = {
  layers: ['similarity'],
  heads: ['similarity'],
  threshold: ['similarity', 'neighbours'],
  k: ['neighbours'],
  'prompt-file': ['similarity', 'neighbours'],
  samples: ['neighbours', 'layer-ratios'],
  tasks: ['layer-ratios'],
  epsilon: ['layer-ratios'],
  budget: ['layer-ratios'],
  'recent-ratio': ['layer-ratios'],
  'attn-ratio': ['layer-ratios'],
  'sink-tokens': ['layer-ratios'],
};

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('analyze', argv, OPTIONS, { positionals: 1, positionalsName: 'one analysis' });
  if (positionals.length !== 1 || !(ANALYSES as readonly string[]).includes(positionals[0]!)) {
    const got = positionals.join(' ');
    throw new KvError(`name one analysis: kvmerger analyze ${ANALYSES.join('|')} (got '${got}')${didYouMean(got, ANALYSES)}; see kvmerger analyze --help`);
  }
  const which = positionals[0] as AnalysisName;
  for (const [flag, allowed] of Object.entries(ONLY)) {
    if ((values as Record<string, unknown>)[flag] !== undefined && !allowed.includes(which)) {
      throw new KvError(`--${flag} does not apply to 'analyze ${which}' (only to ${allowed.join(', ')}); remove it`);
    }
  }
  if (values.out === undefined) throw new KvError(`--out DIR is required: the folder for ${which}.json and the charts`);
  const modelArgs = parseModelArgs(values);
  if (values.png) await checkPngSupport();
  // The folder first: a path that cannot be a folder is one line before any model work.
  const { makeOutDir } = await import('../../eval/grid/out-dir.js');
  makeOutDir(values.out);
  const { seed, random: randomSeed } = parseSeed(values.seed, 0);
  if (randomSeed) process.stderr.write(drawnSeedNote('analyze', seed));

  const { model } = await loadModelFromArgs(modelArgs);
  const quiet = values.json === true;
  const silent = values.quiet === true;
  const tty = process.stderr.isTTY;
  const ctx: RunContext = {
    modelName: basename(model.path),
    notice: (line) => {
      if (!silent) process.stderr.write(`kvmerger: note: ${line}\n`);
    },
    progress: (done, total, what) => {
      if (total <= 1 || silent) return;
      if (tty) process.stderr.write(`\r${which}: ${done}/${total} prompts (${what})   ${done === total ? '\n' : ''}`);
      else if (done === total || done % 10 === 0) process.stderr.write(`${which}: ${done}/${total} prompts\n`);
    },
  };
  try {
    const text = { seed, ...(values.data !== undefined ? { dataRoot: values.data } : {}), ...(values['prompt-file'] !== undefined ? { promptFile: values['prompt-file'] } : {}) };
    const tokens = which === 'layer-ratios' ? undefined : parseNumberFlag('length', values.length, true);
    let result: AnalysisResult<unknown>;
    let lines: string[];
    if (which === 'similarity') {
      const L = model.config.blockCount;
      const layers = parseIndexList(values.layers ?? '0,mid,last', L, '--layers');
      const heads = parseIndexList(values.heads ?? '0', model.config.headCountKv, '--heads');
      const threshold = parseNumberFlag('threshold', values.threshold);
      const r = await runSimilarity(model, { ...text, layers, heads, ...(tokens !== undefined ? { tokens } : {}), ...(threshold !== undefined ? { threshold } : {}) }, ctx);
      result = r;
      lines = similarityLines(r.json);
    } else if (which === 'neighbours') {
      const samples = parseNumberFlag('samples', values.samples, true);
      const threshold = parseNumberFlag('threshold', values.threshold);
      const r = await runNeighbours(
        model,
        { ...text, k: parseNumberFlag('k', values.k, true) ?? 8, ...(tokens !== undefined ? { tokens } : {}), ...(samples !== undefined ? { samples } : {}), ...(threshold !== undefined ? { threshold } : {}) },
        ctx,
      );
      result = r;
      lines = neighbourSummaryLines(r.json as NeighbourJson);
    } else {
      const opt = <T>(k: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [k]: v });
      const r = await runLayerRatios(
        model,
        {
          seed,
          ...opt('dataRoot', values.data),
          ...opt('tasks', values.tasks?.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
          ...opt('samples', parseNumberFlag('samples', values.samples, true)),
          ...opt('length', parseNumberFlag('length', values.length, true)),
          ...opt('epsilon', parseNumberFlag('epsilon', values.epsilon)),
          ...opt('budget', parseNumberFlag('budget', values.budget)),
          ...opt('recentRatio', parseNumberFlag('recent-ratio', values['recent-ratio'])),
          ...opt('attnRatio', parseNumberFlag('attn-ratio', values['attn-ratio'])),
          ...opt('sinkTokens', parseNumberFlag('sink-tokens', values['sink-tokens'], true)),
        },
        ctx,
      );
      result = r;
      lines = layerRatioSummaryLines(r.json as LayerRatioJson);
    }
    const written = await writeAnalysis(values.out, which, result, { png: values.png === true });
    if (quiet) process.stdout.write(analysisJson(result.json) + '\n');
    else {
      for (const l of lines) process.stdout.write(l + '\n');
      process.stdout.write(`wrote ${written.length} files to ${values.out}: ${written.map((w) => basename(w)).join(', ')}\n`);
    }
    return 0;
  } finally {
    await model.close();
  }
}

function similarityLines(j: SimilarityJson): string[] {
  const out = [`${j.tokens} tokens of ${j.text}; layers ${j.layers.join(',')}, KV heads ${j.heads.join(',')}`];
  for (const e of j.entries) {
    const s = e.summary;
    out.push(
      `${e.kind.padEnd(6)} layer ${e.layer} head ${e.head}: adjacent mean ${fmt(s.adjacent?.mean)}, ${pct(s.adjacentAboveThreshold)} > ${s.threshold}; ` +
        `far (> ${s.nearWindow} apart) mean ${fmt(s.meanFar)}; nearest token adjacent for ${pct(s.nearestIsAdjacent)}`,
    );
  }
  return out;
}
