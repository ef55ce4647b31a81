/**
 * Compares the engine's logits with the training framework's fixture (tools/train/make_logits_fixture.py):
 *
 *   npx tsx tools/check-default-logits.ts --model models/kvmerger-default.gguf \
 *       --fixture test/fixtures/default-model-logits.json [--backend reference|ort]
 *
 * Prints, per prompt, whether the tokenizer gives the same ids and the largest logit difference over the top 20.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KVCache } from '../src/cache/kv-cache.js';
import { loadModel, type BackendName } from '../src/model/load-model.js';

interface Fixture {
  cases: { text: string; ids: number[]; top_ids: number[]; top_logits: number[]; last_logits?: number[] }[];
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string' }, fixture: { type: 'string' }, backend: { type: 'string', default: 'reference' } },
  });
  const fx = JSON.parse(readFileSync(values.fixture!, 'utf8')) as Fixture;
  const m = await loadModel(values.model, { backend: values.backend as BackendName });
  let worst = 0;
  let tokOk = true;
  for (const c of fx.cases) {
    const ids = m.tokenizer.encode(c.text, { addSpecial: true });
    const same = ids.length === c.ids.length && ids.every((v, i) => v === c.ids[i]);
    tokOk &&= same;
    const cache = new KVCache(m.config.blockCount, m.config.headCountKv, m.config.headDim, c.ids.length + 1);
    const { logits } = await m.backend.forward(Int32Array.from(c.ids), cache, { logits: 'last' });
    let d = 0;
    c.top_ids.forEach((id, i) => (d = Math.max(d, Math.abs(logits[id]! - c.top_logits[i]!))));
    if (c.last_logits) c.last_logits.forEach((v, i) => (d = Math.max(d, Math.abs(logits[i]! - v))));
    worst = Math.max(worst, d);
    console.log(`${same ? 'ids ok  ' : 'IDS DIFF'} max |dlogit| ${d.toExponential(2)}  ${JSON.stringify(c.text.slice(0, 40))}`);
  }
  await m.close();
  console.log(`tokenizer ${tokOk ? 'matches' : 'DIFFERS'}; worst logit difference ${worst.toExponential(2)}`);
  return tokOk && worst < 1e-3 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
