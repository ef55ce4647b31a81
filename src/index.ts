// The library entry point: `import { ... } from 'kvmerger'` (docs/library.md). A small public surface: loading,
// generation (with a compressed KV cache), chat, the compression methods, the laboratory's grid and its reports.
// Everything else is internal and may change without notice; the options types of these functions are reachable
// as `Parameters<typeof f>[n]`. test/library/consumer.test.ts compiles a user's project against the built types.

export { KvError } from './util/errors.js';

// Loading a model (GGUF, llama2.c checkpoint, Hugging Face folder; undefined: the built-in model).
export { loadModel, defaultModelPath, type LoadedModel, type LoadModelOptions } from './model/load-model.js';
export type { ModelConfig } from './core/model-config.js';
export type { Tokenizer } from './tokenizer/tokenizer.js';
export type { KVCache } from './cache/kv-cache.js';

// Generation, as a function or as a transformers.js-style pipeline.
export { pipeline, type PipelineOptions, type TextGenerationPipeline, type TextGenerationOptions, type TextGenerationOutput } from './generate/pipeline.js';
export { generate, type GenerateOptions, type GenerateResult } from './generate/session.js';
export type { StopReason } from './generate/stop-reason.js';
export type { SamplerOptions } from './generate/sampler.js';
export { applyChatTemplate, type ChatMessage } from './generate/chat-template.js';

// KV-cache compression: how generate() asks for it, the methods by name, and what a new method is written with.
/** The compression methods by name (`kvmerger methods` lists them with their options). */
export { METHODS as methods, methodNames, registerMethod, type MethodOptions } from './compress/registry.js';
export { checkCompression, type Compression } from './generate/compression.js';
export type { CompressionReport } from './compress/compress-cache.js';
export type { BudgetSpec } from './compress/budget.js';
export { defineMethod, NO_STATS, type CompressionMethod } from './compress/compression-method.js';
export { defineOptions, option, type OptionsOf } from './compress/method-options.js';
export { compressByScore } from './compress/keep-by-score.js';
export { evictionPolicy } from './compress/eviction-policy.js';

// Evaluation: tasks (samples and scores), the grid runner (results.jsonl), fidelity metrics.
export { getTask, listTasks, describeTasks, type TaskOptions } from './eval/tasks/registry.js';
export type { Task, Sample, SampleOptions, TaskScore } from './eval/tasks/task.js';
export { planGrid, runGrid, type GridSpec, type GridTaskPlan, type GridSummary, type RunGridOptions } from './eval/grid/run-grid.js';
export type { ResultRow } from './eval/grid/result-row.js';
export { FidelityAccumulator } from './eval/metrics/logit-metrics.js';

// Reports rebuilt from a run's results.jsonl, and the charts they draw (SVG text; PNG bytes through resvg).
export { writeReport, type ReportOptions, type ReportResult } from './report/report.js';
export { readReportRows, type ReportRow } from './report/read-report-rows.js';
export { lineChart } from './plot/line-chart.js';
export { groupedBarChart } from './plot/grouped-bar-chart.js';
export { heatmapChart } from './plot/heatmap-chart.js';
export { similarityMatrixChart } from './plot/similarity-matrix-chart.js';
export { rasterizeSvg } from './plot/rasterize-svg.js';

// Writing GGUF files, and converting a Hugging Face folder to one (docs/model-files.md).
export { writeGGUF, gguf } from './formats/gguf-writer.js';
export { convertHFFolder } from './formats/hf-convert.js';
