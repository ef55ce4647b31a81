/**
 * Pre-tokenizers for byte-level BPE: text → pieces (each piece is merged on its own).
 *
 * A pre-tokenizer is a sequence of steps applied in order to every piece so far (llama.cpp's regex_exprs, Hugging
 * Face's `Sequence`). A regex step keeps the matches and the text between them as separate pieces ("Isolated").
 * Regexes use llama.cpp's / Hugging Face's syntax and are translated for JavaScript: `\s` becomes the Unicode
 * White_Space property (what llama.cpp's collapsed-category matching and Oniguruma mean by it; JavaScript's own `\s`
 * differs at U+0085 and U+FEFF), and `(?i:...)` is expanded letter by letter.
 */
import { KvError } from '../util/errors.js';

export type SplitBehavior = 'isolated' | 'removed' | 'merged-with-previous' | 'merged-with-next';

export type PreTokenizerStep =
  | { kind: 'regex'; pattern: string; behavior?: SplitBehavior }
  /** Prepend a space to every piece that does not start with one (ByteLevel add_prefix_space). */
  | { kind: 'prefix-space' };

export type PreTokenizeFn = (text: string) => string[];

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** Hugging Face's ByteLevel regex (GPT-2's with a final `\s+`). */
export const BYTE_LEVEL_REGEX = GPT2 + '|\\s+';
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen3.5's: QWEN2's with combining marks (\\p{M}) counted as letters (llama.cpp's LLAMA_VOCAB_PRE_TYPE_QWEN35). */
const QWEN35 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT4O =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** deepseek-llm's letters: cased letters of many scripts, as in its tokenizer.json. */
const DEEPSEEK_LLM_LETTERS =
  '\\s?[A-Za-z\\u{B5}\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{1BA}\\u{1BC}-\\u{1BF}\\u{1C4}-\\u{293}\\u{295}-\\u{2AF}' +
  '\\u{370}-\\u{373}\\u{376}\\u{377}\\u{37B}-\\u{37D}\\u{37F}\\u{386}\\u{388}-\\u{38A}\\u{38C}\\u{38E}-\\u{3A1}' +
  '\\u{3A3}-\\u{3F5}\\u{3F7}-\\u{481}\\u{48A}-\\u{52F}\\u{531}-\\u{556}\\u{10A0}-\\u{10C5}\\u{13A0}-\\u{13F5}' +
  '\\u{13F8}-\\u{13FD}\\u{1C90}-\\u{1CBA}\\u{1CBD}-\\u{1CBF}\\u{1D00}-\\u{1D2B}\\u{1D6B}-\\u{1D77}\\u{1D79}-\\u{1D9A}' +
  '\\u{1E00}-\\u{1F15}\\u{1F18}-\\u{1F1D}\\u{1F20}-\\u{1F45}\\u{1F48}-\\u{1F4D}\\u{1F50}-\\u{1F57}\\u{1F59}\\u{1F5B}' +
  '\\u{1F5D}\\u{1F5F}-\\u{1F7D}\\u{1F80}-\\u{1FB4}\\u{1FB6}-\\u{1FBC}\\u{1FBE}\\u{1FC2}-\\u{1FC4}\\u{1FC6}-\\u{1FCC}' +
  '\\u{1FD0}-\\u{1FD3}\\u{1FD6}-\\u{1FDB}\\u{1FE0}-\\u{1FEC}\\u{1FF2}-\\u{1FF4}\\u{1FF6}-\\u{1FFC}\\u{2102}\\u{2107}' +
  '\\u{210A}-\\u{2113}\\u{2115}\\u{2119}-\\u{211D}\\u{2124}\\u{2126}\\u{2128}\\u{212A}-\\u{212D}\\u{212F}-\\u{2134}' +
  '\\u{2139}\\u{213C}-\\u{213F}\\u{2145}-\\u{2149}\\u{214E}\\u{2183}\\u{2184}\\u{2C00}-\\u{2C7B}\\u{2C7E}-\\u{2CE4}' +
  '\\u{2CEB}-\\u{2CEE}\\u{2CF2}\\u{2CF3}\\u{A640}-\\u{A66D}\\u{A680}-\\u{A69B}\\u{A722}-\\u{A76F}\\u{A771}-\\u{A787}' +
  '\\u{A78B}-\\u{A78E}\\u{AB70}-\\u{ABBF}\\u{FB00}-\\u{FB06}\\u{FB13}-\\u{FB17}\\u{FF21}-\\u{FF3A}\\u{FF41}-\\u{FF5A}' +
  '\\u{10400}-\\u{1044F}\\u{104B0}-\\u{104D3}\\u{104D8}-\\u{104FB}\\u{10C80}-\\u{10CB2}\\u{10CC0}-\\u{10CF2}' +
  '\\u{118A0}-\\u{118DF}\\u{1E900}-\\u{1E943}]+';
/** deepseek-llm's punctuation: ASCII and full-width punctuation, curly quotes, ideographic space and full stop. */
const DEEPSEEK_LLM_PUNCT = '\\s?[!-/:-~\\u{FF01}-\\u{FF0F}\\u{FF1A}-\\u{FF5E}\\u{2018}-\\u{201F}\\u{3000}-\\u{3002}]+';
/** CJK ideographs (U+4E00..U+9FA5), U+0800..U+4E00, Hangul syllables and jamo (U+AC00..U+D7FF). */
const CJK = '[\\u{4E00}-\\u{9FA5}\\u{800}-\\u{4E00}\\u{AC00}-\\u{D7FF}]+';

const regexSteps = (...patterns: string[]): PreTokenizerStep[] => patterns.map((pattern) => ({ kind: 'regex', pattern }));

/** llama.cpp's pre-tokenizer for each GGUF `tokenizer.ggml.pre` value (llama-vocab.cpp). */
const BY_PRE: [string[], PreTokenizerStep[]][] = [
  [['default', ''], regexSteps('[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]')],
  [
    ['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'dbrx', 'smaug-bpe', 'tekken'],
    regexSteps(LLAMA3),
  ],
  [['deepseek-llm'], regexSteps('[\r\n]', DEEPSEEK_LLM_LETTERS, DEEPSEEK_LLM_PUNCT, '\\s+$', CJK, '\\p{N}+')],
  [['deepseek-coder'], regexSteps('[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', CJK, '\\p{N}')],
  [['falcon'], regexSteps('[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]')],
  [['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b'], regexSteps('\\p{N}', GPT2)],
  [
    [
      'gpt-2', 'phi-2', 'jina-es', 'jina-de', 'gigachat', 'jina-v1-en', 'jina-v2-es', 'jina-v2-de', 'jina-v2-code',
      'roberta-bpe', 'mpt', 'olmo', 'jais', 'trillion',
    ],
    regexSteps(GPT2),
  ],
  [['qwen2', 'deepseek-r1-qwen', 'kormo', 'f2llmv2', 'stablelm2', 'megrez', 'hunyuan', 'solar-open'], regexSteps(QWEN2)],
  [['qwen35'], regexSteps(QWEN35)],
  // Gemma 4 (SentencePiece-style BPE on raw UTF-8, spaces already `▁`): only newlines split words
  [['gemma4'], regexSteps('[^\\n]+|[\\n]+')],
  [['gpt-4o', 'llama4'], regexSteps(GPT4O)],
];

/** The `tokenizer.ggml.pre` values this project implements. */
export const SUPPORTED_PRE: readonly string[] = BY_PRE.flatMap(([names]) => names.filter((n) => n !== ''));

/** The steps for a GGUF `tokenizer.ggml.pre` value; throws KvError naming the supported ones. */
export function preTokenizerStepsFor(pre: string): PreTokenizerStep[] {
  for (const [names, steps] of BY_PRE) if (names.includes(pre)) return steps;
  throw new KvError(
    `unsupported pre-tokenizer 'tokenizer.ggml.pre = ${pre}'; supported: ${SUPPORTED_PRE.join(', ')}`,
  );
}

/** Translates a llama.cpp / Oniguruma / Rust regex into a JavaScript one (flags `gu`). */
export function toJsRegex(pattern: string): RegExp {
  let out = '';
  let inClass = false;
  let ci = 0; // depth inside (?i:...) groups, counted in parentheses
  const ciStack: number[] = [];
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d === undefined) throw new KvError(`pre-tokenizer regex '${pattern}' ends with a lone backslash`);
      if (d === 's') out += '\\p{White_Space}';
      else if (d === 'S') out += '\\P{White_Space}';
      else if (d === 'p' || d === 'P') {
        const end = pattern.indexOf('}', i);
        out += pattern.slice(i, end + 1);
        i = end;
        continue;
      } else if (/[A-Za-z0-9]/.test(d) || '^$\\.*+?()[]{}|/'.includes(d) || (inClass && d === '-')) out += c + d;
      else out += d === '-' ? '\\-' : d; // identity escapes such as \' are errors in unicode mode
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      continue;
    }
    if (c === '(') {
      depth++;
      if (pattern.startsWith('(?i:', i)) {
        ciStack.push(depth);
        ci++;
        out += '(?:';
        i += 3;
        continue;
      }
      out += c;
      continue;
    }
    if (c === ')') {
      if (ciStack.length > 0 && ciStack[ciStack.length - 1] === depth) {
        ciStack.pop();
        ci--;
      }
      depth--;
      out += c;
      continue;
    }
    if (ci > 0 && /[A-Za-z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    return new RegExp(out, 'gu');
  } catch (err) {
    throw new KvError(`pre-tokenizer regex '${pattern}' is not supported here (${(err as Error).message})`);
  }
}

/** Splits every piece with `re`, keeping matches and the text between them per `behavior`. */
function splitPieces(pieces: string[], re: RegExp, behavior: SplitBehavior): string[] {
  const out: string[] = [];
  for (const piece of pieces) {
    re.lastIndex = 0;
    let last = 0;
    let pending = ''; // merged-with-next: a match waiting for the text after it
    for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
      const s = m.index;
      const len = m[0].length;
      if (len === 0) {
        re.lastIndex++;
        continue;
      }
      if (s > last) {
        out.push(pending + piece.slice(last, s));
        pending = '';
      }
      const match = m[0];
      if (behavior === 'isolated') out.push(match);
      else if (behavior === 'merged-with-previous') {
        if (s > last && out.length > 0) out[out.length - 1] += match;
        else out.push(match);
      } else if (behavior === 'merged-with-next') pending += match;
      last = s + len;
    }
    if (last < piece.length) out.push(pending + piece.slice(last));
    else if (pending !== '') out.push(pending);
  }
  return out;
}

/** Builds the pre-tokenizer function for a list of steps. */
export function makePreTokenizer(steps: readonly PreTokenizerStep[]): PreTokenizeFn {
  const compiled = steps.map((s) =>
    s.kind === 'regex' ? { kind: s.kind, re: toJsRegex(s.pattern), behavior: s.behavior ?? 'isolated' } : { kind: s.kind },
  );
  return (text: string): string[] => {
    let pieces = [text];
    for (const s of compiled) {
      if (s.kind === 'prefix-space') pieces = pieces.map((p) => (p.startsWith(' ') ? p : ' ' + p));
      else pieces = splitPieces(pieces, s.re!, s.behavior!);
    }
    return pieces;
  };
}
