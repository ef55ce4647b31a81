/**
 * What every vocabulary family shares: the token table, special-token splitting (llama.cpp's
 * `tokenizer_st_partition`), BOS/EOS/EOT and stop ids, and decoding (whole or streaming, UTF-8 safe).
 * Subclasses supply the encoding of plain text fragments and the bytes of each token.
 */
import { KvError } from '../util/errors.js';
import {
  TokenType,
  type DecodeOptions,
  type EncodeOptions,
  type TokenDecoder,
  type Tokenizer,
  type TokenizerFamily,
} from './tokenizer.js';

export interface VocabularySpec {
  tokens: readonly string[];
  /** TokenType per token; missing → Normal. */
  types?: ArrayLike<number>;
  bos?: number;
  eos?: number;
  eot?: number;
  /** Extra end-of-generation ids (e.g. `eom`). */
  eog?: number[];
  /** Fill-in-the-middle pad / repository / file-separator ids (GGUF metadata), which end generation in llama.cpp. */
  fim?: { pad?: number; rep?: number; sep?: number };
  unk?: number;
  addBos: boolean;
  addEos: boolean;
  /** Special tokens that swallow whitespace on their left / right when split out of text. */
  lstrip?: Iterable<number>;
  rstrip?: Iterable<number>;
}

/** Raw text or a token id, in input order. */
export type Fragment = string | number;

/** Token texts that end a turn, in order of preference for `eot` (llama.cpp's list, when the metadata names none). */
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
/**
 * Token texts that end generation whatever their type (llama.cpp's special_eog_ids, llama-vocab.cpp); a token found
 * here that is not a control token becomes one, as llama.cpp overrides its type.
 */
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
]);
/** Fill-in-the-middle tokens llama.cpp finds by text when the metadata names none; they end generation too. */
const FIM_TEXTS = {
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
} as const;

/** C's isspace (llama.cpp strips these next to lstrip/rstrip tokens). */
function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

export abstract class BaseTokenizer implements Tokenizer {
  abstract readonly family: TokenizerFamily;
  readonly pre?: string;
  readonly vocabSize: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  readonly unk: number | undefined;
  readonly stopIds: readonly number[];
  readonly addBos: boolean;
  readonly addEos: boolean;

  protected readonly tokens: readonly string[];
  protected readonly types: Uint8Array;
  protected readonly tokenToId = new Map<string, number>();
  /** Control, user-defined and unknown tokens, longest text first (the order llama.cpp splits them out). */
  private readonly specialIds: number[];
  private readonly lstrip: Set<number>;
  private readonly rstrip: Set<number>;
  private readonly bytesCache: (Uint8Array | undefined)[];

  constructor(spec: VocabularySpec) {
    const n = spec.tokens.length;
    if (n === 0) throw new KvError('tokenizer: the vocabulary is empty');
    this.tokens = spec.tokens;
    this.vocabSize = n;
    this.types = new Uint8Array(n).fill(TokenType.Normal);
    if (spec.types) for (let i = 0; i < n && i < spec.types.length; i++) this.types[i] = spec.types[i]!;
    // As llama.cpp: a duplicated string maps to its last id.
    for (let i = 0; i < n; i++) this.tokenToId.set(spec.tokens[i]!, i);
    const valid = (id: number | undefined): number | undefined =>
      id !== undefined && Number.isInteger(id) && id >= 0 && id < n ? id : undefined;
    this.bos = valid(spec.bos);
    this.eos = valid(spec.eos);
    this.unk = valid(spec.unk);
    this.addBos = spec.addBos && this.bos !== undefined;
    this.addEos = spec.addEos && this.eos !== undefined;

    // llama.cpp's special_eog_ids: FIM pad/repo/separator, the end-looking texts (made control tokens), EOS, EOT, EOM
    const stops = new Set<number>();
    for (const k of ['pad', 'rep', 'sep'] as const) {
      let fim = valid(spec.fim?.[k]);
      if (fim === undefined) for (const t of FIM_TEXTS[k]) if (fim === undefined) fim = this.tokenToId.get(t);
      if (fim !== undefined) stops.add(fim);
    }
    for (const t of EOG_TEXTS) {
      const id = this.tokenToId.get(t);
      if (id === undefined) continue;
      stops.add(id);
      if (this.types[id] !== TokenType.Control) this.types[id] = TokenType.Control;
    }
    let eot = valid(spec.eot);
    if (eot === undefined) {
      for (const t of EOT_TEXTS) {
        const id = this.tokenToId.get(t);
        if (id !== undefined) {
          eot = id;
          break;
        }
      }
    }
    this.eot = eot;
    for (const id of [this.eos, this.eot, ...(spec.eog ?? [])]) if (valid(id) !== undefined) stops.add(id!);
    // llama.cpp's workarounds: <|end|> does not end gpt-oss / solar-open turns; </s> is text in Gemma 4
    const textOf = (t: string) => {
      const id = this.tokenToId.get(t);
      return id !== undefined && stops.has(id) ? id : undefined;
    };
    const end = textOf('<|end|>');
    const call = textOf('<|call|>') ?? textOf('<|calls|>');
    if (end !== undefined && call !== undefined && (textOf('<|return|>') !== undefined || textOf('<|flush|>') !== undefined)) {
      stops.delete(end);
      this.types[end] = TokenType.UserDefined;
    }
    const s = textOf('</s>');
    if (s !== undefined && textOf('<|tool_response>') !== undefined) {
      stops.delete(s);
      this.types[s] = TokenType.Normal;
    }
    this.stopIds = [...stops].sort((a, b) => a - b);

    this.specialIds = [];
    for (let i = 0; i < n; i++) {
      const t = this.types[i];
      if ((t === TokenType.Control || t === TokenType.UserDefined || t === TokenType.Unknown) && spec.tokens[i] !== '') {
        this.specialIds.push(i);
      }
    }
    this.specialIds.sort((a, b) => spec.tokens[b]!.length - spec.tokens[a]!.length || a - b);
    this.lstrip = new Set(spec.lstrip ?? []);
    this.rstrip = new Set(spec.rstrip ?? []);
    this.bytesCache = new Array<Uint8Array | undefined>(n);
  }

  /**
   * Encodes one fragment of plain text (no special tokens in it), appending ids to `out`. `afterSpecial`: it starts
   * the text or follows a special token; `atStart`: it starts the text.
   */
  protected abstract encodeText(text: string, out: number[], afterSpecial: boolean, atStart: boolean): void;
  /** The decoded bytes of a non-control token. */
  protected abstract pieceBytes(id: number): Uint8Array;
  /** Whether decode drops the dummy-prefix space of the first piece (SPM with add_space_prefix). */
  protected get stripsLeadingSpace(): boolean {
    return false;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const parseSpecial = options.parseSpecial ?? true;
    const out: number[] = [];
    if (addSpecial && this.addBos) out.push(this.bos!);
    if (text.length > 0) {
      let afterSpecial = true;
      let atStart = true;
      for (const f of this.splitSpecial(text, parseSpecial)) {
        if (typeof f === 'number') out.push(f);
        else this.encodeText(f, out, afterSpecial, atStart);
        afterSpecial = typeof f === 'number';
        atStart = false;
      }
    }
    if (addSpecial && this.addEos) out.push(this.eos!);
    return out;
  }

  /**
   * Splits special-token text out of `text`, longest token first (llama.cpp's order, not leftmost-longest).
   * Control and unknown tokens only when `parseSpecial`; user-defined tokens always.
   */
  splitSpecial(text: string, parseSpecial: boolean): Fragment[] {
    let frags: Fragment[] = [text];
    for (const id of this.specialIds) {
      const t = this.types[id];
      if (!parseSpecial && (t === TokenType.Control || t === TokenType.Unknown)) continue;
      const s = this.tokens[id]!;
      if (!text.includes(s)) continue;
      const lstrip = this.lstrip.has(id);
      const rstrip = this.rstrip.has(id);
      const next: Fragment[] = [];
      for (const f of frags) {
        if (typeof f === 'number') {
          next.push(f);
          continue;
        }
        let pos = 0;
        while (pos < f.length) {
          const m = f.indexOf(s, pos);
          if (m < 0) break;
          let leftEnd = m;
          if (lstrip) while (leftEnd > pos && isCSpace(f.charCodeAt(leftEnd - 1))) leftEnd--;
          if (leftEnd > pos) next.push(f.slice(pos, leftEnd));
          next.push(id);
          pos = m + s.length;
          if (rstrip) while (pos < f.length && isCSpace(f.charCodeAt(pos))) pos++;
        }
        if (pos < f.length) next.push(pos === 0 ? f : f.slice(pos));
      }
      frags = next;
    }
    return frags;
  }

  tokenToPiece(id: number): string {
    this.check(id);
    return this.tokens[id]!;
  }

  pieceToToken(piece: string): number | undefined {
    return this.tokenToId.get(piece);
  }

  tokenType(id: number): TokenType {
    this.check(id);
    return this.types[id] as TokenType;
  }

  tokenBytes(id: number): Uint8Array {
    this.check(id);
    let b = this.bytesCache[id];
    if (b === undefined) {
      const t = this.types[id];
      b = t === TokenType.Control || t === TokenType.Unknown || t === TokenType.UserDefined
        ? utf8.encode(this.tokens[id]!)
        : this.pieceBytes(id);
      this.bytesCache[id] = b;
    }
    return b;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const d = this.createDecoder(options);
    let s = '';
    for (let i = 0; i < ids.length; i++) s += d.push(ids[i]!);
    return s + d.flush();
  }

  createDecoder(options: DecodeOptions = {}): TokenDecoder {
    const skipSpecial = options.skipSpecial ?? true;
    const strip = (options.stripLeadingSpace ?? true) && this.stripsLeadingSpace;
    let first = true;
    let dec = new TextDecoder('utf-8', { fatal: false });
    return {
      push: (id: number): string => {
        const t = this.tokenType(id);
        if (skipSpecial && (t === TokenType.Control || t === TokenType.Unknown)) return '';
        let b = this.tokenBytes(id);
        if (first && strip && b.length > 0 && b[0] === 0x20) b = b.subarray(1);
        first = false;
        return b.length === 0 ? '' : dec.decode(b, { stream: true });
      },
      flush: (): string => {
        const rest = dec.decode(EMPTY);
        dec = new TextDecoder('utf-8', { fatal: false });
        first = true;
        return rest;
      },
    };
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new KvError(`token id ${id} is out of range: the vocabulary has ${this.vocabSize} tokens (0..${this.vocabSize - 1})`);
    }
  }
}
