import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../src/cli/commands/methods.js';
import { runCommand } from '../helpers/run-command.js';

const capture = (argv: string[]) => runCommand(run, argv);

test('kvmerger methods --json lists every method with typed options and defaults', async () => {
  const { code, out } = await capture(['--json']);
  assert.equal(code, 0);
  const j = JSON.parse(out) as { methods: { name: string; description: string; decodeTime: boolean; options: { name: string; type: string; values?: string[]; default: unknown; description: string }[] }[] };
  assert.deepEqual(j.methods.map((m) => m.name), ['full', 'kvmerger', 'kvmerger-prop', 'h2o', 'cam', 'streaming', 'snapkv', 'pyramidkv', 'tova', 'knorm', 'random']);
  const kvm = j.methods.find((m) => m.name === 'kvmerger')!;
  for (const name of ['granularity', 'budgetMode', 'thresholdScope', 'epsilon', 'sigma', 'valueScale', 'weighting', 'recentRatio', 'attnRatio', 'sinkTokens']) {
    assert.ok(kvm.options.some((o) => o.name === name), `kvmerger option ${name}`);
  }
  assert.deepEqual(kvm.options.find((o) => o.name === 'budgetMode'), { name: 'budgetMode', type: 'enum', values: ['exact', 'faithful'], default: 'exact', description: kvm.options.find((o) => o.name === 'budgetMode')!.description });
  assert.equal(kvm.options.find((o) => o.name === 'epsilon')!.default, 0.75);
  assert.equal(j.methods.find((m) => m.name === 'h2o')!.decodeTime, true);
  assert.equal(j.methods.find((m) => m.name === 'snapkv')!.decodeTime, false);
  for (const m of j.methods) assert.ok(m.description.length > 10 && !m.description.includes('\n'));
});

test('kvmerger methods prints a readable listing', async () => {
  const { code, out } = await capture([]);
  assert.equal(code, 0);
  assert.match(out, /^kvmerger {2}KVMerger: /m);
  assert.match(out, /sigma = meanDistance {4}\(meanDistance, rmsDistance or a positive number\)/);
  assert.match(out, /mergeWindow = 32/);
});
