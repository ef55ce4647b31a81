/**
 * End to end: the analyses on a random tiny model (always) and on stories260K (when ../shared/data has it), checking
 * that the files exist and the JSON is sane. Kept to a few seconds: short prompts, few samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ReferenceBackend } from '../../src/model/reference-backend.js';
import type { SessionModel } from '../../src/generate/session-model.js';
import { runNeighbours, runSimilarity } from '../../src/analysis/run-analysis.js';
import { writeAnalysis } from '../../src/analysis/analysis-output.js';
import { run as analyzeCli } from '../../src/cli/commands/analyze.js';
import { loadModel } from '../../src/model/load-model.js';
import { smallConfig, randomWeightSource } from '../helpers/random-model.js';
import { letterTokenizer } from '../helpers/letter-tokenizer.js';
import { sharedData } from '../helpers/shared-data.js';
import type { SimilarityJson } from '../../src/analysis/similarity-analysis.js';
import type { NeighbourJson } from '../../src/analysis/neighbour-analysis.js';
import type { LayerRatioJson } from '../../src/analysis/layer-ratio-analysis.js';

const inUnit = (x: unknown) => typeof x === 'number' && x >= -1 - 1e-6 && x <= 1 + 1e-6;

test('random tiny model: similarity and neighbours from a prompt file write sane files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-analyze-'));
  try {
    const config = smallConfig({ blockCount: 3, contextLength: 64 });
    const model: SessionModel = { config, tokenizer: letterTokenizer(config.vocabSize), backend: new ReferenceBackend(randomWeightSource(config, 3)) };
    const file = join(dir, 'prompt.txt');
    writeFileSync(file, 'the quick brown fox jumps over the lazy dog and runs far away again');
    const notices: string[] = [];
    const ctx = { modelName: 'random', notice: (l: string) => notices.push(l) };
    const sim = await runSimilarity(model, { promptFile: file, tokens: 100, layers: [0, 2], heads: [0, 1] }, ctx);
    assert.ok(notices.some((n) => n.includes('63')), 'the token count is clamped to the context − 1 and said so');
    const j = sim.json;
    assert.equal(j.entries.length, 2 * 2 * 2); // kinds × layers × heads
    assert.equal(j.tokens, 63);
    for (const e of j.entries) {
      assert.equal(e.summary.tokens, 63);
      assert.ok(inUnit(e.summary.adjacent!.mean));
      assert.ok(e.summary.adjacentAboveThreshold >= 0 && e.summary.adjacentAboveThreshold <= 1);
    }
    const written = await writeAnalysis(dir, 'similarity', sim);
    assert.equal(written.length, 1 + 8);
    for (const w of written) assert.ok(existsSync(w), w);
    const back = JSON.parse(readFileSync(join(dir, 'similarity.json'), 'utf8')) as SimilarityJson;
    assert.equal(back.analysis, 'similarity');
    assert.ok(readFileSync(join(dir, 'similarity-values-l2-h1.svg'), 'utf8').startsWith('<svg'));

    const nb = await runNeighbours(model, { promptFile: file, tokens: 40, k: 3 }, ctx);
    assert.equal(nb.json.prompts, 1); // a prompt file is one prompt
    assert.equal(nb.json.perLayer.keys.length, 3);
    for (const kind of ['keys', 'values'] as const) {
      for (const l of nb.json.perLayer[kind]) {
        assert.equal(l.offsets.length, 3);
        assert.equal(l.offsets[0]!.n, 2 * (40 - 1)); // 2 KV heads × adjacent pairs
        for (const s of l.offsets) assert.ok(inUnit(s.mean));
      }
    }
    assert.equal(nb.charts.length, 5);
    await assert.rejects(runNeighbours(model, { promptFile: file, tokens: 10, k: 10 }, ctx), /--k/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('analyze: bad invocations are one-line user errors', async () => {
  await assert.rejects(analyzeCli(['--out', 'x']), /name one analysis/);
  await assert.rejects(analyzeCli(['similarity', '--k', '3', '--out', 'x']), /--k does not apply/);
  await assert.rejects(analyzeCli(['neighbours']), /--out DIR is required/);
});

const stories = sharedData('models/stories260K.bin');
const tok = sharedData('models/tok512.bin');
const skip = !stories || !tok || !sharedData('corpora/gutenberg') ? 'needs ../shared/data (stories260K.bin, tok512.bin, corpora/gutenberg)' : false;

test('stories260K: similarity and neighbours on held-out Gutenberg prose', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-analyze-'));
  const model = await loadModel(stories!, { tokenizerPath: tok!, backend: 'reference' });
  try {
    const ctx = { modelName: 'stories260K.bin' };
    const sim = await runSimilarity(model, { tokens: 96, layers: [0, 4], heads: [0] }, ctx);
    assert.equal(sim.json.tokens, 96);
    assert.equal(sim.json.text, 'held-out Gutenberg prose');
    // The paper's observation holds on this model: adjacent keys are far more similar than adjacent values.
    assert.ok(sim.json.overall.keys.meanAdjacent > sim.json.overall.values.meanAdjacent + 0.3, JSON.stringify(sim.json.overall));
    const nb = await runNeighbours(model, { tokens: 64, k: 4, samples: 2 }, ctx);
    assert.equal(nb.json.prompts, 2);
    assert.deepEqual(nb.json.tokensPerPrompt, [64, 64]);
    assert.ok(nb.json.overall.keys[0]!.mean > nb.json.overall.values[0]!.mean);
    const files = await writeAnalysis(dir, 'neighbours', nb);
    const j = JSON.parse(readFileSync(files[0]!, 'utf8')) as NeighbourJson;
    assert.equal(j.perLayer.values.length, 5);
  } finally {
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('stories260K: kvmerger analyze layer-ratios --json (CLI, two tasks)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-analyze-'));
  try {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const r = spawnSync(
      process.execPath,
      [
        '--import', 'tsx', join(root, 'src/cli/main.ts'), 'analyze', 'layer-ratios', '--model', stories!, '--tokenizer', tok!,
        '--backend', 'reference', '--tasks', 'fidelity,passkey', '--samples', '2', '--length', '80', '--budget', '0.5', '--out', dir, '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout) as LayerRatioJson;
    assert.equal(j.analysis, 'layer-ratios');
    assert.deepEqual(j.tasks, ['fidelity', 'passkey']);
    assert.equal(j.samples.length, 4);
    assert.deepEqual(j.settings, { epsilon: 0.75, recentRatio: 0.17, attnRatio: 0.12, sinkTokens: 0, budget: 0.5 });
    for (const s of j.samples) {
      assert.equal(s.keys.length, 5);
      // Reserved shares keep at least 29% of every layer; nothing can keep more than everything.
      for (const x of [...s.keys, ...s.values]) assert.ok(x >= 0.29 - 1e-9 && x <= 1, String(x));
    }
    const p = j.persistence.keys;
    assert.equal(p.perLayer.length, 5);
    assert.equal(p.pairs.all, 6);
    for (const f of ['layer-ratios.json', 'layer-ratios-keys.svg', 'layer-ratios-values.svg', 'layer-ratios-keys-vs-values.svg']) {
      assert.ok(existsSync(join(dir, f)), f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
