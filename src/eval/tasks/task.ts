/**
 * The laboratory's task contract. A task turns options (seed, lengths in tokens, depths, a tokenizer) into samples,
 * and scores what the model produced for a sample. Tasks never touch a model: the grid runner feeds `prompt` (or
 * `promptIds`) to the engine and hands the output back to `score`.
 */
import type { OptionSpec, OptionValue } from '../../util/option-declarations.js';

/**
 * The tokenizer a task needs: the project's `Tokenizer` (src/tokenizer/tokenizer.ts) satisfies it. Tasks always call
 * `encode(text, { addSpecial: false, parseSpecial: false })`, so every token count in this folder is content
 * tokens only (no BOS); the runner adds the model's special tokens and should reserve room for them.
 */
export interface EvalTokenizer {
  encode(text: string, options?: { addSpecial?: boolean; parseSpecial?: boolean }): number[];
  decode(ids: number[]): string;
}

/** Content token ids of `text` (no special tokens added, special-token text treated as plain text). */
export function encodeContent(tokenizer: EvalTokenizer, text: string): number[] {
  return tokenizer.encode(text, { addSpecial: false, parseSpecial: false });
}

/** Task-specific option values: strings as the CLI passes them (`--task-option name=value`), or typed values. */
export type TaskOptionValue = OptionValue;

export interface SampleOptions {
  /** Seeds every random choice; the same options give the same samples. */
  seed: number;
  /**
   * Samples per cell (a cell is one length, or one length × depth for needle tasks); default 1. File-backed tasks
   * (LongBench, ruler-jsonl): the first `count` rows of the file, all rows when absent or 0.
   */
  count?: number;
  /** Context lengths in tokens of `tokenizer` (each task's description says what the length bounds). */
  lengths?: number[];
  /** Needle depths in percent of the haystack (0 = start, 100 = end); needle tasks only. */
  depths?: number[];
  tokenizer: EvalTokenizer;
  /** The offline data folder (default `../shared/data` beside the repository, or env KVMERGER_SHARED_DATA). */
  dataRoot?: string;
  /** Task-specific options (each task lists its own in `options`); unknown names are an error. */
  options?: Record<string, TaskOptionValue>;
  /**
   * The model's chat format, when the grid applies chat templates (`--chat-template auto` on a model whose GGUF has
   * `tokenizer.chat_template`). Tasks whose source wraps prompts for chat models (LongBench's chat datasets) use it
   * and say so in `meta.chatTemplate`; other tasks ignore it.
   */
  chat?: ChatFormat;
}

/** A model's chat template, ready to wrap one prompt (see `modelChatFormat` in chat-format.ts). */
export interface ChatFormat {
  /**
   * The prompt text for one user message `content`, with the assistant's turn opened (add_generation_prompt), and
   * without a leading BOS that the runner adds itself. Its special-token text must be parsed when encoding.
   */
  render(content: string): string;
}

/** What the runner feeds the model and what the task expects back. */
export interface Sample {
  /** Stable and unique within the task for the same options, e.g. `L=4000/d=50/i=0`: the result row's `sample`. */
  id: string;
  task: string;
  /**
   * Generation mode: the runner prefills the prompt and decodes greedily up to `maxNewTokens`, stopping at the
   * model's end tokens or any of `stop`. Teacher-force mode (fidelity tasks): the runner prefills `promptIds`,
   * compresses, then feeds `continuationIds` one by one and hands the per-step logits to a `FidelityAccumulator`.
   */
  mode: 'generate' | 'teacher-force';
  /**
   * The prompt text exactly as the model should see it (no BOS; wrapped in the model's chat template only when
   * `meta.chatTemplate` is 'applied', and then `promptIds` holds its tokens with the template's special tokens parsed).
   */
  prompt: string;
  /** When present, the exact content token ids to prefill (used instead of re-encoding `prompt`). */
  promptIds?: number[];
  /** Teacher-force mode: the tokens to force after the prompt. */
  continuationIds?: number[];
  /** Expected answers (any one, or all, depending on the task's metric); empty for fidelity. */
  answers: string[];
  maxNewTokens: number;
  /** Stop strings that end generation early (e.g. LongBench samsum stops at a newline). */
  stop?: string[];
  /** The requested context length L in tokens (the cell's length). */
  contextLength: number;
  /** Actual prompt tokens as `tokenizer` counts them (content tokens, no BOS). */
  promptTokens: number;
  /** Needle depth in percent, for needle tasks (the heatmap's y axis). */
  depth?: number;
  /** Anything else worth recording in the result row (seed, haystack, dataset, key, ...). */
  meta: Record<string, string | number | boolean>;
}

/** A sample's score: `score` in [0, 1] (higher is better), plus task-specific numbers for the report. */
export interface TaskScore {
  score: number;
  metrics: Record<string, number>;
}

interface TaskBase {
  /** Registry name, e.g. `passkey`, `ruler-niah-single-1`, `longbench-multi_news`. */
  readonly name: string;
  /** One line for `kvmerger eval --help` and reports. */
  readonly description: string;
  /** Task-specific options with defaults, from the task's declaration (`defineTaskOptions`, task-options.ts). */
  readonly options: readonly OptionSpec[];
  /** Default lengths when `SampleOptions.lengths` is absent. */
  readonly defaultLengths: readonly number[];
  samples(opts: SampleOptions): Sample[];
}

/** A task whose model output is generated text. */
export interface GenerationTask extends TaskBase {
  readonly kind: 'generate';
  score(sample: Sample, output: string): TaskScore;
}

/** What a fidelity run measured over the forced tokens (see `FidelityAccumulator.result()`). */
export interface FidelityObservation {
  /** Forced tokens measured. */
  tokens: number;
  /** Sum over tokens of -log p_full(target) and -log p_compressed(target) (nats). */
  nllFull: number;
  nllCompressed: number;
  /** Sum over tokens of KL(p_full ‖ p_compressed) (nats). */
  klSum: number;
  /** Tokens where both distributions have the same argmax. */
  top1Agree: number;
}

/** A task measured on logits with teacher forcing (fidelity, perplexity over a stream). */
export interface FidelityTask extends TaskBase {
  readonly kind: 'fidelity';
  score(sample: Sample, output: FidelityObservation): TaskScore;
}

export type Task = GenerationTask | FidelityTask;
