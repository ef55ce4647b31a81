import { KvError } from '../../util/errors.js';
import { loadTokenizer } from '../../tokenizer/load-tokenizer.js';
import { MODEL_OPTIONS, OUTPUT_OPTIONS, PROMPT_OPTIONS, parseOptions, promptText, type OptionTable } from '../options.js';

export const summary = "tokenise text with a model file's vocabulary (GGUF, tokenizer.bin or tokenizer.json)";

export const help = `Usage: kvmerger tokenize [-m FILE | --tokenizer FILE] (-p TEXT | -f FILE) [--no-special] [--json]

Print the token ids of a text, as llama.cpp's tokenizer produces them.

  -m, --model FILE        the vocabulary of this GGUF or Hugging Face folder (default: the built-in
                          model's)
  --tokenizer FILE        or: this tokenizer file (GGUF, llama2.c tokenizer.bin, Hugging Face
                          tokenizer.json)
  -p, --prompt TEXT       the text to tokenise (also --text)
  -f, --prompt-file FILE  read the text from a file (UTF-8, used as is); - reads stdin (also
                          --text-file)
  --no-special            add no BOS/EOS and treat special-token text (e.g. <|endoftext|>) as plain
                          text (llama.cpp's add_special=false, parse_special=false)
  --json                  print exactly one JSON object: {"ids": [...]}
  -q, --quiet             nothing on stderr but errors

Without --json: one line per token (id, vocabulary piece, decoded text), then a count.

Examples:
  kvmerger tokenize -p "Hello world"
  kvmerger tokenize --tokenizer ../shared/data/tokenizer-tests/ggml-vocab-llama-spm.gguf -p "Hi"`;

const OPTIONS = {
  model: MODEL_OPTIONS.model,
  tokenizer: MODEL_OPTIONS.tokenizer,
  ...PROMPT_OPTIONS,
  'no-special': { type: 'boolean' },
  ...OUTPUT_OPTIONS,
} as const satisfies OptionTable;

/** The option table, for the help consistency test. */
export const options: OptionTable = OPTIONS;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseOptions('tokenize', argv, OPTIONS);
  if ((values.prompt === undefined) === (values['prompt-file'] === undefined)) {
    throw new KvError('tokenize: give exactly one of --prompt TEXT or --prompt-file FILE (- reads stdin)');
  }
  const text = promptText(values)!;
  let file = values.tokenizer ?? values.model;
  if (file === undefined) {
    const { defaultModelPath } = await import('../../model/load-model.js');
    file = defaultModelPath();
  }
  // A Hugging Face folder's vocabulary (its tokenizer.json or tokenizer.model): loadTokenizer reads the folder.
  const tokenizer = loadTokenizer(file);
  const special = !values['no-special'];
  const ids = tokenizer.encode(text, { addSpecial: special, parseSpecial: special });
  if (values.json) {
    process.stdout.write(JSON.stringify({ ids }) + '\n');
    return 0;
  }
  const width = String(tokenizer.vocabSize - 1).length;
  const lines: string[] = [];
  for (const id of ids) {
    const decoded = new TextDecoder('utf-8', { fatal: false }).decode(tokenizer.tokenBytes(id));
    lines.push(`${String(id).padStart(width)}  ${JSON.stringify(tokenizer.tokenToPiece(id))}  ${JSON.stringify(decoded)}`);
  }
  lines.push(`${ids.length} tokens`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
