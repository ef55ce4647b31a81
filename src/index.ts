// The library entry point: `import { ... } from 'kvmerger'` (docs/library.md). A small public surface: loading,
// generation (with a compressed cache), chat, the compression methods, the laboratory's grid and its reports.
// Everything else is internal; its types may change without notice. test/library/ compiles a consumer against dist/.

export { KvError } from './util/errors.js';

// Loading a model (GGUF, llama2.c checkpoint, Hugging Face folder; undefined: the built-in model).
export { loadModel, defaultModelPath, type LoadedModel, type LoadModelOptions, type BackendName } from './model/load-model.js';
export type { ModelConfig, Architecture } from './core/model-config.js';
export type { Tokenizer, EncodeOptions, DecodeOptions } from './tokenizer/tokenizer.js';
export type { KVCache } from './cache/kv-cache.js';

// Generation, as a function or as a transformers.js-style pipeline.
export {
  pipeline,
  type Compression,
  type PipelineOptions,
  type TextGenerationPipeline,
  type TextGenerationOptions,
  type TextGenerationOutput,
} from './generate/pipeline.js';
export { generate, type GenerateOptions, type GenerateResult, type StopReason, type TruncateMode } from './generate/session.js';
export type { SamplerOptions } from './generate/sampler.js';
export type { TokenLogprobs } from './generate/logprobs.js';
export { applyChatTemplate, type ChatMessage, type ChatTemplateOptions } from './generate/chat-template.js';

// KV-cache compression: the methods by name, the session hook, and what a new method is written with.
/** The compression methods by name (`kvmerger methods` lists them with their options). */
export { METHODS as methods, methodNames, registerMethod, type MethodOptions } from './compress/registry.js';
export { compressionHook, type CompressionChoice } from './generate/compression-hook.js';
export type { CompressionReport } from './compress/compress-cache.js';
export type { BudgetSpec } from './compress/budget.js';
export { defineMethod, NO_STATS, type CompressionMethod, type MethodInput, type DecodePolicy } from './compress/compression-method.js';
export { defineOptions, option, type OptionsOf } from './compress/method-options.js';
export { compressByScore, type ScoreRule } from './compress/keep-by-score.js';
export { evictionPolicy, type EvictionRule } from './compress/eviction-policy.js';
export type { KVMergerOptions } from './compress/methods/kvmerger/options.js';

// Evaluation: tasks (samples and scores), the grid runner (results.jsonl), fidelity metrics.
export { getTask, listTasks, describeTasks } from './eval/tasks.js';
export type { Task, GenerationTask, FidelityTask, Sample, SampleOptions, TaskScore, EvalTokenizer } from './eval/task.js';
export { planGrid, runGrid, type GridSpec, type GridTaskPlan, type GridPlan, type GridSummary, type RunGridOptions } from './eval/run-grid.js';
export { FidelityAccumulator, type FidelitySummary } from './eval/logit-metrics.js';

// Reports rebuilt from a run's results.jsonl, and the charts they draw (SVG; PNG through resvg).
export { writeReport, type ReportOptions, type ReportResult } from './eval/report.js';
export { readReportRows, type ReportRow } from './eval/read-report-rows.js';
export { lineChart, type LineChartOptions, type LineSeries } from './plot/line-chart.js';
export { groupedBarChart, type GroupedBarChartOptions, type BarSeries } from './plot/grouped-bar-chart.js';
export { heatmapChart, type HeatmapChartOptions } from './plot/heatmap-chart.js';
export { similarityMatrixChart, type SimilarityMatrixChartOptions } from './plot/similarity-matrix-chart.js';
export { rasterizeSvg, type RasterizeOptions } from './plot/rasterize-svg.js';

// Writing GGUF files (docs/model-files.md).
export { writeGGUF, gguf, type GGUFWriteInput } from './formats/gguf-writer.js';
