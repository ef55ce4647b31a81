import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KvError } from '../../util/errors.js';
import { loadTokenizer } from '../../tokenizer/load-tokenizer.js';

export const summary = 'tokenise text with a model file\'s vocabulary (GGUF, tokenizer.bin or tokenizer.json)';

export const help = `Usage: kvmerger tokenize --model FILE (--text TEXT | --text-file FILE) [--no-special] [--json]

Print the token ids of a text, as llama.cpp's tokenizer produces them.

  --model FILE        GGUF file, llama2.c tokenizer.bin, or Hugging Face tokenizer.json
  --text TEXT         the text to tokenise
  --text-file FILE    read the text from a file (UTF-8, used as is)
  --no-special        add no BOS/EOS and treat special-token text (e.g. <|endoftext|>) as plain text
                      (llama.cpp's add_special=false, parse_special=false)
  --json              print exactly one JSON object: {"ids": [...]}

Without --json: one line per token (id, vocabulary piece, decoded text), then a count.

Example:
  kvmerger tokenize --model ../shared/data/tokenizer-tests/ggml-vocab-llama-spm.gguf --text "Hello world"`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      text: { type: 'string' },
      'text-file': { type: 'string' },
      'no-special': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.model) throw new KvError('tokenize: --model FILE is required (a GGUF, tokenizer.bin or tokenizer.json)');
  if ((values.text === undefined) === (values['text-file'] === undefined)) {
    throw new KvError('tokenize: give exactly one of --text TEXT or --text-file FILE');
  }
  let text = values.text;
  if (text === undefined) {
    const file = values['text-file']!;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new KvError(`--text-file ${file}: ${code === 'ENOENT' ? 'no such file; check the path' : (err as Error).message}`);
    }
  }
  const tokenizer = loadTokenizer(values.model);
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
