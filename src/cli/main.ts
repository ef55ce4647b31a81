#!/usr/bin/env node
/**
 * The `kvmerger` command: dispatches to one module per subcommand (src/cli/commands/<name>.ts), each exporting
 * `run(argv: string[]): Promise<number>` and `help: string`. User errors (KvError) print one line and exit 1;
 * `--verbose` adds the stack trace.
 */
import { spawn } from 'node:child_process';
import { closeSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Writable } from 'node:stream';
import { KvError } from '../util/errors.js';
import { UnknownOptionError, didYouMean, wrapText, type OptionTable } from './options.js';

interface CommandModule {
  run(argv: string[]): Promise<number>;
  help: string;
  summary: string;
  /** The option table (commands parsed with src/cli/options.ts). */
  options?: OptionTable;
}

/** Subcommands, loaded lazily so that `kvmerger info` does not load onnxruntime. */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  info: () => import('./commands/info.js'),
  tokenize: () => import('./commands/tokenize.js'),
  generate: () => import('./commands/generate.js'),
  methods: () => import('./commands/methods.js'),
  report: () => import('./commands/report.js'),
  eval: () => import('./commands/eval.js'),
  worker: () => import('./commands/worker.js'),
  reproduce: () => import('./commands/reproduce.js'),
  demo: () => import('./commands/demo.js'),
  analyze: () => import('./commands/analyze.js'),
  bench: () => import('./commands/bench.js'),
  serve: () => import('./commands/serve.js'),
  chat: () => import('./commands/chat.js'),
  convert: () => import('./commands/convert.js'),
};

async function mainHelp(): Promise<string> {
  const lines = [
    'kvmerger: long-context LLM inference with a compressible KV cache, and a laboratory that measures it.',
    '',
    'Usage: kvmerger <command> [options]    (kvmerger <command> --help for its options)',
    '',
    'Commands:',
  ];
  for (const [name, load] of Object.entries(COMMANDS)) {
    const mod = await load();
    lines.push(`  ${name.padEnd(10)} ${mod.summary}`);
  }
  lines.push(
    '',
    'Global options: --verbose (stack traces on errors), -h / --help, --version',
    'Shared options, the same in every command that has them: -m/--model, --tokenizer, --backend,',
    '-t/--threads, -p/--prompt, -f/--prompt-file (- is stdin), -s/--seed, -b/--chunk-size, -o/--out,',
    '--data, --json, -q/--quiet. llama.cpp spellings work too (-n, -c, --temp, --n-predict, --ctx-size).',
  );
  return wrapText(lines.join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;
  try {
    if (name === 'help' && rest[0] !== undefined && COMMANDS[rest[0]]) {
      process.stdout.write(wrapText((await COMMANDS[rest[0]]!()).help) + '\n');
      return 0;
    }
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      process.stdout.write((await mainHelp()) + '\n');
      return 0;
    }
    if (name === '--version' || name === '-v' || name === 'version') {
      const { version } = await import('../version.js');
      process.stdout.write(version + '\n');
      return 0;
    }
    const load = COMMANDS[name];
    if (!load) {
      const hint = didYouMean(name, Object.keys(COMMANDS));
      throw new KvError(`unknown command '${name}'${hint}; run 'kvmerger --help' for the list of commands`);
    }
    const mod = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(wrapText(mod.help) + '\n');
      return 0;
    }
    return await mod.run(rest);
  } catch (thrown) {
    let err: unknown = thrown;
    if (err instanceof UnknownOptionError && err.hint === '' && err.flag.startsWith('--')) err = await otherCommandsHint(err);
    const parseError = err instanceof TypeError && (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    if (err instanceof KvError || parseError) {
      // node's parseArgs messages span several lines and name no fix: one line, pointing at the command's --help.
      const message = parseError
        ? `${(err as Error).message.replace(/\s*\n\s*/g, ' ').replace(/\.$/, '')}; run 'kvmerger ${name ?? ''} --help' for its options`
        : (err as Error).message;
      process.stderr.write(`kvmerger: ${message}\n`);
      if (verbose && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
      return 1;
    }
    process.stderr.write(`kvmerger: internal error: ${(err as Error)?.message ?? String(err)}\n`);
    if (err instanceof Error && err.stack) process.stderr.write(err.stack + '\n');
    return 2;
  }
}

/** "--data: eval, demo, reproduce and analyze take it, generate does not": an option of other commands. */
async function otherCommandsHint(err: UnknownOptionError): Promise<KvError> {
  const name = err.flag.slice(2);
  const takers: string[] = [];
  for (const [command, load] of Object.entries(COMMANDS)) {
    if (command === err.command) continue;
    const table = (await load()).options;
    if (table && Object.entries(table).some(([n, spec]) => n === name || (spec.aliases ?? []).includes(name))) takers.push(command);
  }
  if (takers.length === 0) return err;
  const list = takers.length === 1 ? takers[0] : `${takers.slice(0, -1).join(', ')} and ${takers[takers.length - 1]}`;
  return new KvError(`unknown option '${err.flag}' (${list} take${takers.length === 1 ? 's' : ''} it, ${err.command} does not); run 'kvmerger ${err.command} --help' for its options`);
}

// A reader that goes away early (`kvmerger tokenize ... | head`) is not an error: stop quietly, no stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`kvmerger: cannot write to stdout: ${err.message}\n`);
  process.exit(2);
});

/**
 * onnxruntime reads the process's command line (/proc/self/cmdline) when it starts and walks it recursively: a command
 * line over about 26 KB (a long `--prompt`) overflows the stack and kills the process with SIGSEGV. A long command
 * line is therefore handed to a child process through a pipe (fd 3) instead of argv; the child runs the command
 * with the same stdin, stdout and stderr, and its exit status is this process's.
 */
const ARGV_LIMIT_BYTES = 8192;
const ARGV_FD_ENV = 'KVMERGER_ARGV_FD';

function argvFromPipe(): string[] | undefined {
  if (process.env[ARGV_FD_ENV] === undefined) return undefined;
  const fd = Number(process.env[ARGV_FD_ENV]);
  delete process.env[ARGV_FD_ENV];
  const args = JSON.parse(readFileSync(fd, 'utf8')) as unknown;
  closeSync(fd);
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw new Error('argument pipe: not a list of strings');
  return args as string[];
}

function relaunchWithShortArgv(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [ARGV_FD_ENV]: '3' },
  });
  (child.stdio[3] as Writable).end(JSON.stringify(args));
  // Ctrl-C reaches the child too (same process group); this process waits for it and reports what it did.
  const forward = (sig: NodeJS.Signals) => () => void child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolveCode) => {
    child.on('error', (err) => {
      process.stderr.write(`kvmerger: cannot start the command: ${err.message}\n`);
      resolveCode(2);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolveCode(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 2));
    });
  });
}

const args = argvFromPipe() ?? process.argv.slice(2);
const long = Buffer.byteLength(process.argv.join('\0')) > ARGV_LIMIT_BYTES && process.argv[1] !== undefined;
(long ? relaunchWithShortArgv(args) : main(args)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(String(err) + '\n');
    process.exitCode = 2;
  },
);
