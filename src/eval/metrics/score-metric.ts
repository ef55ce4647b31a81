/**
 * What a task's `score` measures, for chart axes and grouping: tasks with different metrics (a needle's answer found,
 * a LongBench ROUGE-L, a fidelity run's top-1 agreement) are never drawn as one series, averaged into one point, or
 * put on one axis.
 */
import { DATASET_METRIC, type LongBenchMetric } from './longbench-metrics.js';

export interface ScoreMetric {
  /** Short name for the axis: 'answer found', 'ROUGE-L'. */
  name: string;
  /** True when the score is a share of samples or answers (shown as %), false for a similarity (shown ×100). */
  percent: boolean;
}

const LONGBENCH: Record<LongBenchMetric, ScoreMetric> = {
  qa_f1: { name: 'QA F1', percent: false },
  qa_f1_zh: { name: 'QA F1 (characters)', percent: false },
  rouge: { name: 'ROUGE-L', percent: false },
  rouge_zh: { name: 'ROUGE-L (characters)', percent: false },
  classification: { name: 'classification accuracy', percent: true },
  retrieval: { name: 'retrieval accuracy', percent: true },
  retrieval_zh: { name: 'retrieval accuracy', percent: true },
  count: { name: 'count accuracy', percent: true },
  code_sim: { name: 'code edit similarity', percent: false },
};

/** Teacher-forced tasks score top-1 agreement with the full cache (`FidelityTask.score`). */
export const TOP1_METRIC: ScoreMetric = { name: 'top-1 agreement', percent: true };

/**
 * The metric of a task's `score`, by the task's registry name; `fidelityRows` says the rows are teacher-forced
 * (they carry KL or top-1 agreement), whatever the task is called.
 */
export function scoreMetric(task: string, fidelityRows = false): ScoreMetric {
  if (fidelityRows || task === 'fidelity' || task === 'ppl-stream') return TOP1_METRIC;
  if (task === 'niah' || task === 'passkey' || task === 'niah-paraphrase') return { name: 'answer found', percent: true };
  if (task.startsWith('ruler-')) return { name: 'string match', percent: true };
  if (task.startsWith('longbench-')) {
    const metric = DATASET_METRIC[task.slice('longbench-'.length)];
    if (metric !== undefined) return LONGBENCH[metric];
  }
  return { name: 'score', percent: false };
}

/** The y-axis label for scores of this metric at `scale` (100: scores in [0, 1] shown ×100). */
export function scoreAxisLabel(metric: ScoreMetric, scale: number): string {
  if (scale !== 100) return metric.name;
  return metric.percent ? `${metric.name} (%)` : `${metric.name} (×100)`;
}
