// The library entry point: `import { ... } from 'kvmerger'`. Each layer exports its public API here.
export { KvError } from './util/errors.js';
export type { ModelConfig, Architecture, RopeStyle, RopeScaling } from './core/model-config.js';
export { KVCache } from './cache/kv-cache.js';
export { LayerCache } from './cache/layer-cache.js';
export { HeadCache } from './cache/head-cache.js';
export type { AttentionStats, StatsRequest } from './cache/attention-stats.js';
// Model files: GGUF read/write, llama2.c checkpoints, dequantisation, model descriptions.
export { openGGUF, type GGUFFile, type GGUFTensorInfo } from './formats/gguf-reader.js';
export type { GGUFValue, GGUFType, GGUFScalarType, GGUFTypedValue } from './formats/gguf-types.js';
export { writeGGUF, gguf, inferType, typedMetadata, type GGUFWriteInput, type GGUFTensorInput, type MetadataInput } from './formats/gguf-writer.js';
export { dequantize, canDequantize, DEQUANTIZABLE_TYPES } from './formats/dequantize.js';
export { quantize, QUANTIZABLE_TYPES } from './formats/quantize.js';
export { ggmlTypeById, ggmlTypeByName, type GGMLTypeInfo } from './formats/ggml-types.js';
export { openModelFile } from './formats/open-model-file.js';
export type { ModelFile, ModelFileFormat } from './formats/model-file.js';
export { openHFFolder, isHFFolder, tensorTypeFor, CONVERT_TYPES, LOAD_QUANT_TYPES, type HFModelFile, type HFFolderOptions, type ConvertType, type LoadQuantType } from './formats/hf-folder.js';
export { convertHFFolder, type ConvertResult } from './formats/hf-convert.js';
export { openSafetensors, type SafetensorsFile, type SafetensorsTensor } from './formats/safetensors.js';
export { openLlama2cCheckpoint, parseLlama2cHeader, llama2cConfig, type Llama2cHeader } from './formats/llama2c-checkpoint.js';
export { describeModel, SUPPORTED_ARCHITECTURES, type TensorDirectory } from './formats/model-description.js';
export { summarizeModel, type ModelSummary } from './formats/model-summary.js';
// Tokenizers: SPM (GGUF llama, llama2.c tokenizer.bin) and byte-level BPE (GGUF gpt2, tokenizer.json).
export {
  TokenType,
  type Tokenizer,
  type TokenizerFamily,
  type EncodeOptions,
  type DecodeOptions,
  type TokenDecoder,
} from './tokenizer/tokenizer.js';
export { loadTokenizer } from './tokenizer/load-tokenizer.js';
export { tokenizerFromGGUFMetadata } from './tokenizer/gguf-tokenizer.js';
export { tokenizerFromHFJson, type HFTokenizerHints } from './tokenizer/hf-tokenizer.js';
export { Llama2cTokenizer, parseLlama2cTokenizer } from './tokenizer/llama2c-tokenizer.js';
// Engine: forward passes, sampling, generation sessions.
export type { ForwardBackend, ForwardOptions, ForwardResult } from './model/backend.js';
export type { WeightSource } from './core/weight-source.js';
export { ReferenceBackend } from './model/reference-backend.js';
export { loadModel, defaultModelPath, type LoadedModel, type LoadModelOptions, type BackendName } from './model/load-model.js';
export { createOrtBackend, type OrtBackendOptions } from './model/ort-backend.js';
export { ropeInverseFrequencies, applyRope } from './model/rope.js';
export { Sampler, argmax, type SamplerOptions, type Candidates } from './generate/sampler.js';
export {
  generate,
  truncatePrompt,
  type GenerateOptions,
  type GenerateResult,
  type SessionModel,
  type PrefillCompression,
  type StopReason,
  type TruncateMode,
} from './generate/session.js';
export { compressionHook, type CompressionChoice } from './generate/compression-hook.js';
export { chunkedPrefill, type ChunkedPrefill, type AfterChunk } from './generate/chunked-prefill.js';
export { applyChatTemplate, type ChatMessage, type ChatTemplateOptions } from './generate/chat-template.js';
export { Rng } from './util/rng.js';
// Compression: methods, budgets, the session-facing plan (prepareCompression / compressCache) and decode policies.
export * from './compress/index.js';
/** The compression methods by name (the same map as METHODS). */
export { METHODS as methods } from './compress/registry.js';
export { cacheDump, headDump, writeCompressionDump, type CacheDump, type HeadDump, type CompressionDump } from './cache/cache-dump.js';
// Charts (SVG, PNG through resvg) and reports rebuilt from a run's results.jsonl.
export { heatmapChart, type HeatmapChartOptions, type HeatmapCell } from './plot/heatmap-chart.js';
export { lineChart, type LineChartOptions, type LineSeries, type LinePoint, type ReferenceLine } from './plot/line-chart.js';
export { groupedBarChart, type GroupedBarChartOptions, type BarSeries } from './plot/grouped-bar-chart.js';
export { similarityMatrixChart, type SimilarityMatrixChartOptions } from './plot/similarity-matrix-chart.js';
export { methodColor, METHOD_COLORS, METHOD_ORDER, sortMethods } from './plot/method-colors.js';
export { rasterizeSvg, type RasterizeOptions } from './plot/rasterize-svg.js';
export { writeReport, type ReportOptions, type ReportResult } from './eval/report.js';
export { readReportRows, parseReportRows, type ReportRow } from './eval/read-report-rows.js';
// Evaluation tasks (model-independent): sample generation and scoring; the grid runner feeds the model.
export type {
  Task,
  GenerationTask,
  FidelityTask,
  Sample,
  SampleOptions,
  TaskScore,
  TaskOptionSpec,
  TaskOptionValue,
  FidelityObservation,
  EvalTokenizer,
} from './eval/task.js';
export { getTask, listTasks, parseTaskList, describeTasks } from './eval/tasks.js';
// The grid runner: plan (validated up front), run with a shared prefill per sample, rows appended to results.jsonl.
export {
  planGrid,
  runGrid,
  resultRow,
  type GridSpec,
  type GridTaskPlan,
  type GridPlan,
  type PlannedSample,
  type GridSummary,
  type RunGridOptions,
} from './eval/run-grid.js';
export { runSampleCells, samplePromptIds, type GridModel, type CellOutcome, type RunSampleOptions } from './eval/run-sample.js';
export { cellKey, type GridCell, type CellKeyParts } from './eval/grid-cell.js';
export { ResultsLog, type ResultsLogOpen } from './eval/results-log.js';
export { createProgress, formatDuration, type GridProgress } from './eval/progress.js';
export { writeRunInfo, machineInfo, type RunInfo } from './eval/run-info.js';
export { reproduceTasks, REPRODUCE_METHODS, REPRODUCE_BUDGETS, type ReproduceGridOptions } from './eval/reproduce-grid.js';
export {
  FidelityAccumulator,
  summarizeFidelity,
  logSoftmax,
  klDivergence,
  perplexity,
  type FidelitySummary,
} from './eval/logit-metrics.js';
export { longBenchScore, DATASET_METRIC, type LongBenchMetric } from './eval/longbench-metrics.js';
export { stringMatchAll, stringMatchPart } from './eval/ruler-metrics.js';
export { rouge1Recall, rougeL } from './eval/rouge.js';
export { resolveDataRoot } from './eval/data-root.js';
// Analysis: the paper's observations (similarity maps, neighbour offsets, per-layer merge ratios) from a prefilled cache.
export { cosineMatrix, offsetCosines } from './analysis/cosine-similarity.js';
export { rowNorms } from './compress/row-norms.js';
export { summarizeSimilarity, type SimilaritySummary } from './analysis/similarity-summary.js';
export { neighbourSimilarity, NeighbourAccumulator, type LayerNeighbourStats, type OffsetStats, type VectorKind } from './analysis/neighbour-similarity.js';
export { layerMergeRatios, headMergeResult, type MergeRatioOptions, type LayerMergeRatios, type HeadMergeResult } from './analysis/merge-ratios.js';
export { ratioPersistence, pearson, type PersistenceReport, type RatioSample, type LayerSpread } from './analysis/ratio-persistence.js';
export { prefillCache, withBos, type PrefilledCache, type PrefillOptions } from './analysis/prefill-cache.js';
export { analyzeSimilarity, MAX_SIMILARITY_TOKENS, type SimilarityJson } from './analysis/similarity-analysis.js';
export { analyzeNeighbours, type NeighbourJson } from './analysis/neighbour-analysis.js';
export { analyzeLayerRatios, type LayerRatioJson, type RatioSampleResult } from './analysis/layer-ratio-analysis.js';
export { runSimilarity, runNeighbours, runLayerRatios, type RunContext } from './analysis/run-analysis.js';
export { writeAnalysis, type AnalysisResult, type AnalysisChart } from './analysis/analysis-output.js';
