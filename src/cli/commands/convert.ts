import { existsSync } from 'node:fs';
import { KvError } from '../../util/errors.js';
import { OUTPUT_OPTIONS, choiceOption, parseOptions, type OptionTable } from '../options.js';

export const summary = 'convert a Hugging Face model folder (safetensors) to GGUF, no Python needed';

export const help = `Usage: kvmerger convert DIR OUT.gguf [--type f32|f16|bf16|q8_0|q4_0|q4_k_m] [--json]

Write the Hugging Face folder DIR (config.json, safetensors shards, tokenizer.json, tokenizer_config.json)
as a GGUF file that llama.cpp and kvmerger load: llama.cpp's metadata keys, tensor names and tokenizer
fields, as its convert_hf_to_gguf.py writes them. One tensor is in memory at a time.

  --type T      stored type of the matrices (default f16; norms and biases stay f32):
                f32, f16, bf16, q8_0, q4_0, or q4_k_m (llama.cpp's mix: q6_k for the output head
                and for attn_v / ffn_down in some layers, q4_k for the rest)
  --json        print one JSON object: {path, type, architecture, tensors, bytes, types}
  -q, --quiet   no progress on stderr

Architectures: llama (Llama, Mistral, SmolLM), qwen2, qwen3, gemma2, gemma3, phi3; byte-level BPE
tokenizers. See docs/model-files.md.

Example:
  kvmerger convert ./SmolLM2-135M-Instruct smollm2-q8_0.gguf --type q8_0`;

const OPTIONS = {
  type: { type: 'string' },
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions('convert', argv, OPTIONS, { positionals: 2, positionalsName: 'a folder and an output file' });
  const { CONVERT_TYPES, isHFFolder } = await import('../../formats/hf-folder.js');
  const { convertHFFolder } = await import('../../formats/hf-convert.js');
  const type = choiceOption('type', values.type, CONVERT_TYPES, 'f16');
  const [dir, out] = positionals;
  if (dir === undefined || out === undefined) throw new KvError("convert needs two arguments, the folder and the output file: kvmerger convert DIR OUT.gguf");
  if (!existsSync(dir)) throw new KvError(`${dir}: no such folder; check the path`);
  if (!isHFFolder(dir)) throw new KvError(`${dir}: not a Hugging Face model folder (no config.json)`);
  const quiet = values.quiet === true || values.json === true;
  const started = Date.now();
  const result = convertHFFolder(dir, out, type, (name, i, n) => {
    if (!quiet && process.stderr.isTTY) process.stderr.write(`\r[${i + 1}/${n}] ${name}`.padEnd(60));
  });
  if (!quiet && process.stderr.isTTY) process.stderr.write('\r'.padEnd(61) + '\r');
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    const mix = Object.entries(result.types).map(([t, c]) => `${c} ${t}`).join(', ');
    process.stdout.write(`${result.path}: ${result.architecture}, ${result.tensors} tensors (${mix}), ${(result.bytes / 2 ** 20).toFixed(1)} MiB\n`);
    if (!values.quiet) process.stderr.write(`converted in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
  return 0;
}
