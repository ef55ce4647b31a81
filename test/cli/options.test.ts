// The shared option layer (src/cli/options.ts) and the one vocabulary it gives every command: aliases, negative
// numbers, did-you-mean, and help texts that list exactly the options a command takes, in at most 100 columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closest, editDistance, parseOptions, wrapText, type OptionTable } from '../../src/cli/options.js';

const TABLE = {
  model: { type: 'string', short: 'm' },
  temperature: { type: 'string', aliases: ['temp'] },
  stop: { type: 'string', multiple: true },
  json: { type: 'boolean' },
} as const satisfies OptionTable;

test('parseOptions: long, short, alias, =value, repeatable, --', () => {
  const { values, positionals } = parseOptions('x', ['-m', 'a.gguf', '--temp', '0.5', '--stop=A', '--stop', 'B', '--json', '--', '--json'], TABLE, { positionals: 1 });
  assert.deepEqual(values, { model: 'a.gguf', temperature: '0.5', stop: ['A', 'B'], json: true });
  assert.deepEqual(positionals, ['--json']);
});

test('parseOptions: a value may start with - (negative numbers, stdin), but not be another option', () => {
  assert.equal(parseOptions('x', ['--temperature', '-1'], TABLE).values.temperature, '-1');
  assert.equal(parseOptions('x', ['--temperature', '-.5'], TABLE).values.temperature, '-.5');
  assert.equal(parseOptions('x', ['-m', '-'], TABLE).values.model, '-');
  assert.throws(() => parseOptions('x', ['--model', '--json'], TABLE), /--model needs a value, but '--json' follows it.*--model=--json/);
  assert.equal(parseOptions('x', ['--model=--json'], TABLE).values.model, '--json');
  assert.throws(() => parseOptions('x', ['--model'], TABLE), /--model needs a value; run 'kvmerger x --help'/);
  assert.throws(() => parseOptions('x', ['--json=yes'], TABLE), /--json takes no value/);
});

test('parseOptions: unknown options and stray arguments name the closest option', () => {
  assert.throws(() => parseOptions('generate', ['--temprature', '1'], TABLE), /^KvError: unknown option '--temprature' \(did you mean --temperature\?\); run 'kvmerger generate --help' for its options$/);
  assert.throws(() => parseOptions('x', ['--zzzzzz'], TABLE), /^KvError: unknown option '--zzzzzz'; run/);
  assert.throws(() => parseOptions('x', ['-z'], TABLE), /unknown option '-z'/);
  assert.throws(() => parseOptions('x', ['json'], TABLE), /unexpected argument 'json'.*did you mean --json\?/);
});

test('edit distance and suggestions', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.deepEqual(closest('genrate', ['generate', 'info', 'eval']), ['generate']);
  assert.deepEqual(closest('--chunk-sise', ['--chunk-size', '--seed']), ['--chunk-size']);
  assert.deepEqual(closest('xyz', ['generate']), []);
});

test('wrapText: long lines wrap at spaces, continuations under the description column', () => {
  const line = `  --model FILE      ${'word '.repeat(30).trim()}`;
  const out = wrapText(line, 60).split('\n');
  assert.ok(out.length > 1);
  for (const l of out) assert.ok(l.length <= 60, l);
  for (const l of out.slice(1)) assert.match(l, /^ {20}word/);
  assert.equal(wrapText('short'), 'short');
  // a paragraph is refilled as a whole; a shell line ending in a backslash is left alone
  const para = `${'aaaa '.repeat(14).trim()}\n${'bbbb '.repeat(5).trim()}`;
  assert.deepEqual(wrapText(para, 40).split('\n'), [...wrapText(`${'aaaa '.repeat(14)}${'bbbb '.repeat(5).trim()}`, 40).split('\n')]);
  assert.ok(wrapText(para, 40).split('\n').every((l) => l.length <= 40));
  const shell = `  kvmerger generate ${'--x '.repeat(30)}\\`;
  assert.equal(wrapText(shell, 40), shell);
});

// every command that parses with the shared layer (it exports its option table)
const commandsDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'commands');
const COMMANDS: string[] = [];
for (const f of readdirSync(commandsDir).filter((x) => x.endsWith('.ts')).sort()) {
  const name = f.replace(/\.ts$/, '');
  if ('options' in ((await import(`../../src/cli/commands/${name}.js`)) as object)) COMMANDS.push(name);
}
const RUNS_A_MODEL = ['generate', 'eval', 'reproduce', 'demo', 'analyze'];

async function load(name: string): Promise<{ help: string; options: OptionTable }> {
  return (await import(`../../src/cli/commands/${name}.js`)) as { help: string; options: OptionTable };
}

test('the shared layer covers every command', () => {
  for (const c of ['info', 'tokenize', 'generate', 'methods', 'report', 'eval', 'reproduce', 'demo', 'analyze', 'bench']) assert.ok(COMMANDS.includes(c), c);
});

test('every help text: at most 100 columns, every option shown, only options that exist', async () => {
  const all = new Set<string>(['--help', '--verbose', '--version']);
  const tables = new Map<string, OptionTable>();
  for (const name of COMMANDS) {
    const { options } = await load(name);
    tables.set(name, options);
    for (const [n, spec] of Object.entries(options)) {
      all.add(`--${n}`);
      for (const a of spec.aliases ?? []) all.add(`--${a}`);
    }
  }
  for (const name of COMMANDS) {
    const { help } = await load(name);
    // as printed (kvmerger wraps what a command's author left too long)
    for (const l of wrapText(help).split('\n')) assert.ok(l.length <= 100, `${name} --help: ${l.length} columns: ${l}`);
    for (const [n, spec] of Object.entries(tables.get(name)!)) {
      if (spec.hidden) continue;
      assert.ok(help.includes(`--${n}`), `${name} --help does not show --${n}`);
      if (spec.short) assert.ok(help.includes(`-${spec.short}, --${n}`), `${name} --help does not show -${spec.short}, --${n}`);
    }
    for (const m of help.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)) assert.ok(all.has(m[0]), `${name} --help names ${m[0]}, which no command takes`);
  }
});

test('one vocabulary: the shared options mean the same in every command', async () => {
  const spelling = new Map<string, string>();
  for (const name of COMMANDS) {
    const { options } = await load(name);
    assert.ok(options.json, `${name}: --json`);
    // bench's options are its owner's; its progress lines have no --quiet yet
    if (name !== 'bench') assert.ok(options.quiet, `${name}: --quiet`);
    if (RUNS_A_MODEL.includes(name)) {
      for (const o of ['model', 'tokenizer', 'backend', 'threads', 'seed']) assert.ok(options[o], `${name}: --${o}`);
    }
    // a flag (canonical, alias or short) names the same concept wherever it appears (--method in eval is
    // --methods with one name: singular and plural are one concept)
    for (const [name0, spec] of Object.entries(options)) {
      const n = name0.replace(/s$/, '');
      for (const flag of [`--${n}`, ...(spec.aliases ?? []).map((a) => `--${a}`), ...(spec.short ? [`-${spec.short}`] : [])]) {
        const seen = spelling.get(flag);
        assert.ok(seen === undefined || seen === n, `${name}: ${flag} means --${name0} here but --${seen} elsewhere`);
        spelling.set(flag, n);
      }
    }
  }
  for (const name of ['eval', 'reproduce', 'demo', 'analyze']) assert.ok((await load(name)).options.data, `${name}: --data`);
});
