// The published types as a user sees them: build the library into a temporary package, compile a small consumer
// against it with `skipLibCheck: false`, no @types/node and no dependency installed (so no Node type such as Buffer
// or NodeJS.*, and no onnx or server type, may leak into the public .d.ts; web standards such as AbortSignal come from
// the DOM library, as in a browser or Deno project), then run it: a short generate and a compressed pipeline call on the built-in model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';

const root = resolve(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const builtIn = existsSync(join(root, 'models')) && readdirSync(join(root, 'models')).some((f) => f.endsWith('.gguf'));

const consumer = `import {
  loadModel, generate, pipeline, checkCompression, methods, methodNames, KvError, listTasks, writeReport,
  type GenerateResult, type TextGenerationOutput, type ChatMessage, type Compression, type ReportResult, type Task,
} from 'kvmerger';

const compression: Compression = { method: 'kvmerger', budget: 0.5 };
checkCompression(compression);
const model = await loadModel(undefined, { backend: 'reference' });
const r: GenerateResult = await generate(model, { prompt: 'Once upon a time', maxTokens: 4, sampling: { temperature: 0 } });
const c = await generate(model, { prompt: 'Once upon a time', maxTokens: 4, sampling: { temperature: 0 }, compression });
const generator = await pipeline('text-generation', model, { compression });
const out: TextGenerationOutput[] = await generator('Once upon a time', { maxTokens: 4, sampling: { temperature: 0 } });
const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }];
// The built-in model has no chat template: messages are a KvError saying so.
let chatError = '';
try {
  await generator(messages, { maxTokens: 2, compression: null });
} catch (e) {
  chatError = e instanceof KvError ? 'KvError' : String(e);
}
await generator.dispose();
await model.close();
const tasks: Task[] = listTasks();
const report: ((dir: string) => Promise<ReportResult>) = writeReport;
console.log(JSON.stringify({
  tokens: r.tokens.length, compressedSlots: c.cache.slots, fullSlots: r.cache.slots,
  text: out[0]!.generated_text, chatError,
  methods: methods.size, names: methodNames().length, tasks: tasks.length, report: typeof report,
}));
`;

test('a consumer compiles against the built .d.ts without @types/node and runs a short generate', { skip: !builtIn ? 'the built-in model is absent (models/*.gguf)' : false, timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmerger-consumer-'));
  try {
    const pkg = join(dir, 'node_modules', 'kvmerger');
    mkdirSync(pkg, { recursive: true });
    // The build as `npm run build` makes it, into the temporary package (the repository's dist/ is left alone).
    const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist'), '--sourceMap', 'false'], { encoding: 'utf8' });
    assert.equal(build.status, 0, build.stdout + build.stderr);
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(root, 'models'), join(pkg, 'models'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], types: [], strict: true, skipLibCheck: false, outDir: '.' },
        files: ['main.ts'],
      }),
    );
    writeFileSync(join(dir, 'main.ts'), consumer);
    // No node_modules/@types anywhere above the consumer and none inside the package: a Node type in a public
    // .d.ts is an error here, as is a dependency's type the package would need installed.
    const compiled = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', cwd: dir });
    assert.equal(compiled.status, 0, `the consumer does not compile:\n${compiled.stdout}${compiled.stderr}`);
    // To run, the package's dependencies must be installed beside it: the repository's.
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'));
    const run = spawnSync(process.execPath, [join(dir, 'main.js')], { encoding: 'utf8', cwd: dir, timeout: 120_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    const got = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    assert.equal(got['tokens'], 4);
    assert.ok((got['compressedSlots'] as number) < (got['fullSlots'] as number), 'the compressed cache is smaller');
    assert.match(got['text'] as string, /^Once upon a time./);
    assert.equal(got['chatError'], 'KvError');
    assert.ok((got['methods'] as number) >= 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
