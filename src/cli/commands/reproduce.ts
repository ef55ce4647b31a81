/** `kvmerger reproduce`: the paper's whole set on a model — the grid, the analysis, the report. Resumable. */
import { join } from 'node:path';
import { KvError } from '../../util/errors.js';
import { exitOnInterrupt, modelName, parseIntFlag, parseNameList, parseNumberList } from '../grid-args.js';
import { loadModelFromArgs, parseModelArgs } from '../model-args.js';
import { drawnSeedNote, parseSeed } from '../seed.js';
import {
  CHUNK_OPTION,
  DATA_OPTION,
  GRID_OPTIONS,
  MODEL_OPTIONS,
  QUANTIZE_OPTION,
  OUTPUT_OPTIONS,
  OUT_OPTION,
  SEED_OPTION,
  parseOptions,
  type OptionTable,
} from '../options.js';
import { gridDescription } from './eval.js';

export const summary = "run the paper's evaluation on a model (grid, analysis, report with charts); resumable";

export const help = `Usage: kvmerger reproduce -o DIR [-m FILE] [--samples N] [--quick]

Runs the paper's set on a model and writes the report, all into DIR:
  1. the grid (DIR/results.jsonl, resumable like 'kvmerger eval': run the same command again after
     an interruption): methods full, h2o, cam, kvmerger (exact: equal kept slots) + streaming,
     snapkv, pyramidkv, tova, knorm, random; budgets 0.5 and 0.35; the tasks that fit the model's
     context: fidelity, ppl-stream, passkey and niah heatmaps (lengths × depths), niah-paraphrase,
     RULER-style tasks, LongBench multi_news and the Chinese sets (when <data>/longbench has them
     and the context leaves room for their answers). Tasks left out are listed, with why.
  2. the analysis (DIR/analysis/): key/value similarity maps, neighbour similarity, per-layer merge
     ratios;
  3. the report: DIR/report.md, DIR/charts/*.svg + .png, DIR/index.html.
The full set on the built-in model is about 1,600 cells (hours on 2 cores); --quick is minutes.

Options:
  -m, --model FILE          default: the built-in model
  --tokenizer FILE          for models without their own vocabulary (llama2.c: tokenizer.bin)
  --backend ort|reference   forward pass (default ort)
  -t, --threads N           onnxruntime threads
  --precision int8|fp32     products with quantised weights: int8 (default, as llama.cpp) or fp32
  --kv-type f16|f32         how the KV cache stores keys and values (default f16, as llama.cpp)
  --quantize q8_0|q4_0|q4_k_m  a Hugging Face folder's weights quantised as they load (rows name the
                            model NAME@TYPE)
  -b, --chunk-size N        prompt tokens per forward call (default 512)
  --samples N               samples per length for the non-heatmap tasks (default 3; --quick: 1)
  --quick                   fewer lengths, depths and samples (minutes instead of hours)
  --methods LIST            override the methods
  --budgets LIST            override the budgets
  --method-option [M.]K=V   a method's option (repeatable), as in kvmerger eval
  -s, --seed S              default 0; -1: a random seed, printed
  --data DIR                the offline data folder (default ../shared/data or KVMERGER_SHARED_DATA)
  --no-analysis             skip step 2
  -o, --out DIR             the folder for everything (required)
  --json                    print a JSON summary at the end
  -q, --quiet               no progress display`;

const OPTIONS = {
  ...MODEL_OPTIONS,
  ...QUANTIZE_OPTION,
  ...CHUNK_OPTION,
  samples: { type: 'string' },
  quick: { type: 'boolean' },
  ...GRID_OPTIONS,
  ...SEED_OPTION,
  ...DATA_OPTION,
  'no-analysis': { type: 'boolean' },
  ...OUT_OPTION,
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('reproduce', argv, OPTIONS);
  const quick = values.quick ?? false;
  const quiet = values.quiet ?? false;
  if (values.out === undefined) throw new KvError('reproduce: --out DIR is required (the folder for results, analysis and report)');
  const out = values.out;
  const modelArgs = parseModelArgs(values);
  const backend = modelArgs.backend;
  const samples = values.samples !== undefined ? parseIntFlag('--samples', values.samples, 1, 1) : undefined;
  const { seed, random: randomSeed } = parseSeed(values.seed, 0);
  if (randomSeed) process.stderr.write(drawnSeedNote('reproduce', seed));
  const chunkSize = parseIntFlag('--chunk-size', values['chunk-size'], 512, 1);
  const { REPRODUCE_BUDGETS, REPRODUCE_METHODS, reproduceTasks } = await import('../../eval/grid/reproduce-grid.js');
  const methods = values.methods ? parseNameList(values.methods) : REPRODUCE_METHODS;
  const budgets = parseNumberList('--budgets', values.budgets) ?? REPRODUCE_BUDGETS;

  // The folder is made and locked before the model loads: a second run on it refuses at once.
  const { lockOutDir, makeOutDir } = await import('../../eval/grid/out-dir.js');
  makeOutDir(out);
  const unlock = lockOutDir(out);
  let model: Awaited<ReturnType<typeof loadModelFromArgs>>['model'];
  let modelPath: string;
  try {
    ({ model, modelPath } = await loadModelFromArgs(modelArgs));
  } catch (err) {
    unlock();
    throw err;
  }
  const t0 = performance.now();
  const say = (s: string) => {
    if (!quiet) process.stderr.write(`${s}\n`);
  };
  try {
    const { planGrid, runGrid } = await import('../../eval/grid/run-grid.js');
    const { createProgress } = await import('../../eval/grid/progress.js');
    const { writeRunInfo } = await import('../../eval/grid/run-info.js');
    const name = modelName(modelPath, modelArgs.quantize);
    const preset = reproduceTasks(model, {
      quick,
      seed,
      ...(samples !== undefined ? { samples } : {}),
      ...(values.data !== undefined ? { dataRoot: values.data } : {}),
    });
    if (preset.tasks.length === 0) throw new KvError(`reproduce: no task fits ${name} (${preset.notes.join('; ')})`);
    const spec = {
      model: name,
      backend,
      tasks: preset.tasks,
      methods,
      budgets,
      seed,
      methodOptions: values['method-option'] ?? [],
      ...(values.data !== undefined ? { dataRoot: values.data } : {}),
      chunkSize,
    };
    const plan = planGrid(model, spec);
    const notes = [...preset.notes, ...plan.notes];
    writeRunInfo(out, {
      command: ['kvmerger', 'reproduce', ...argv],
      model: name,
      modelPath: model.path,
      ...(values.tokenizer !== undefined ? { tokenizerPath: values.tokenizer } : {}),
      ...(modelArgs.quantize !== undefined ? { quantize: modelArgs.quantize } : {}),
      backend,
      grid: { ...gridDescription(spec, plan.totalCells), quick, notes },
    });
    say(`reproduce: ${name}, context ${model.config.contextLength}; ${preset.tasks.map((t) => t.task.name).join(', ')}`);
    for (const n of preset.notes) say(`  note: ${n}`);
    const release = exitOnInterrupt(out, 'kvmerger reproduce');
    let s;
    try {
      s = await runGrid(model, plan, { out, progress: createProgress({ quiet: quiet || (values.json ?? false) }) });
    } finally {
      release();
    }
    say(`grid: ${s.ran} cell(s) run, ${s.skipped} already done, ${s.totalCells} in the grid (${(s.elapsedMs / 1000).toFixed(0)} s)`);

    // The paper's observations on this model.
    const png = await pngAvailable();
    if (!png) say('  note: no font for PNG output; charts are SVG only (apt-get install fonts-dejavu-core, or KVMERGER_FONT=/path/font.ttf)');
    if (!values['no-analysis']) {
      const analysisDir = join(out, 'analysis');
      try {
        const a = await import('../../analysis/run-analysis.js');
        const { writeAnalysis } = await import('../../analysis/analysis-output.js');
        const ctx = { modelName: name, notice: (l: string) => say(`  analysis note: ${l}`) };
        const text = { seed, ...(values.data !== undefined ? { dataRoot: values.data } : {}) };
        const tokens = Math.min(512, model.config.contextLength - 1);
        const last = model.config.blockCount - 1;
        const layers = [...new Set([0, Math.floor(last / 2), last])];
        await writeAnalysis(analysisDir, 'similarity', await a.runSimilarity(model, { ...text, tokens, layers, heads: [0] }, ctx), { png });
        await writeAnalysis(analysisDir, 'neighbours', await a.runNeighbours(model, { ...text, tokens, k: 8, samples: quick ? 2 : 4 }, ctx), { png });
        await writeAnalysis(analysisDir, 'layer-ratios', await a.runLayerRatios(model, { ...text, samples: quick ? 4 : 12 }, ctx), { png });
        say(`analysis: ${analysisDir}/ (similarity, neighbours, layer-ratios)`);
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        say(`  note: analysis skipped: ${err.message}`);
      }
    }
    const { writeReport } = await import('../../report/report.js');
    const r = await writeReport(out, { png });
    const seconds = (performance.now() - t0) / 1000;
    if (values.json) {
      const summary = { model: name, cells: s.totalCells, ran: s.ran, skipped: s.skipped, seconds, notes, reportMd: r.reportMd, indexHtml: r.indexHtml, charts: r.charts };
      process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
      return 0;
    }
    process.stdout.write(
      [
        `reproduce: ${name}: ${s.ran + s.skipped}/${s.totalCells} cells in ${out}/results.jsonl; ${seconds.toFixed(0)} s`,
        ...notes.map((n) => `  note: ${n}`),
        `  ${r.reportMd}`,
        `  ${r.indexHtml}`,
        `  ${r.charts.length} chart file(s) in ${out}/charts/`,
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    unlock();
    await model.close();
  }
}

async function pngAvailable(): Promise<boolean> {
  try {
    const { findFontFiles } = await import('../../plot/find-font-files.js');
    if (findFontFiles().files.length === 0) return false;
    await import('@resvg/resvg-js');
    return true;
  } catch {
    return false;
  }
}
