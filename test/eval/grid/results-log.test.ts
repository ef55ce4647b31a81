import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResultsLog } from '../../../src/eval/grid/results-log.js';
import { createProgress, formatDuration } from '../../../src/eval/grid/progress.js';
import { cellKey } from '../../../src/eval/grid/grid-cell.js';
import type { ResultRow } from '../../../src/eval/grid/result-row.js';

/** A partial row: the log writes whatever row it is given, and these tests need only the key. */
const row = (r: Partial<ResultRow> & Record<string, unknown>): ResultRow => r as ResultRow;

test('ResultsLog appends whole lines and reads back the finished cell keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-log-'));
  try {
    const log = ResultsLog.open(dir);
    assert.equal(log.opened.rows, 0);
    log.append(row({ cellKey: 'a', score: 1 }));
    log.append(row({ cellKey: 'b', score: 0.5 }));
    log.close();
    assert.equal(readFileSync(join(dir, 'results.jsonl'), 'utf8'), '{"cellKey":"a","score":1}\n{"cellKey":"b","score":0.5}\n');
    const again = ResultsLog.open(dir);
    assert.deepEqual([...again.opened.done], ['a', 'b']);
    assert.equal(again.opened.tornBytes, 0);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ResultsLog cuts off a torn last line, so the next row starts on a clean line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvm-log-'));
  try {
    const path = join(dir, 'results.jsonl');
    writeFileSync(path, '{"cellKey":"a"}\nnot json\n{"cellKey":"b","sco');
    const log = ResultsLog.open(dir);
    assert.deepEqual([...log.opened.done], ['a']);
    assert.equal(log.opened.badLines, 1);
    assert.equal(log.opened.tornBytes, Buffer.byteLength('{"cellKey":"b","sco'));
    log.append(row({ cellKey: 'b' }));
    log.close();
    assert.equal(readFileSync(path, 'utf8'), '{"cellKey":"a"}\nnot json\n{"cellKey":"b"}\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cellKey is stable under key order and changes with any part', () => {
  const base = { model: 'm', backend: 'ort', task: 't', taskOptions: { k: 1 }, seed: 0, sample: 's', method: 'h2o', options: { a: 1, b: 'x' }, budget: 0.5 };
  const k = cellKey(base);
  assert.match(k, /^[0-9a-f]{16}$/);
  assert.equal(cellKey({ ...base, options: { b: 'x', a: 1 } }), k);
  for (const change of [{ seed: 1 }, { budget: 0.35 }, { options: { a: 2, b: 'x' } }, { sample: 's2' }, { backend: 'reference' }, { taskOptions: { k: 2 } }]) {
    assert.notEqual(cellKey({ ...base, ...change }), k, JSON.stringify(change));
  }
});

test('progress: plain lines off a terminal, a redrawn bar with ETA on one', () => {
  let plain = '';
  const p = createProgress({ stream: { write: (s: string) => ((plain += s), true) }, tty: false });
  p.start(4, 1);
  p.cell('passkey L=100 h2o b=0.5', 'score 1.000');
  p.note('note: x');
  p.finish();
  assert.match(plain, /^grid: 4 cells, 1 already done \(resuming\)\n\[2\/4\] passkey L=100 h2o b=0.5: score 1.000 \(ETA \S+\)\nnote: x\n$/);
  let tty = '';
  const q = createProgress({ stream: { write: (s: string) => ((tty += s), true), columns: 200 }, tty: true });
  q.start(2, 0);
  q.cell('a', 'score 1');
  q.finish();
  assert.ok(tty.includes('\r\x1b[2K'));
  assert.match(tty, /\[#{12}\.{12}\] 1\/2 50% .* ETA \S+ {2}a score 1/);
  assert.ok(!tty.includes('\n'));
  assert.equal(formatDuration(59_400), '59s');
  assert.equal(formatDuration(61_000), '1m01s');
  assert.equal(formatDuration(3_700_000), '1h01m');
});
