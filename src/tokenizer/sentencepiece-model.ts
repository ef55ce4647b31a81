/**
 * A SentencePiece `tokenizer.model` (a serialised `sentencepiece.ModelProto`, protobuf) read without a protobuf
 * library: the pieces (text, score, type), and of the trainer and normalizer specs the fields a tokenizer needs
 * (model type, byte fallback, unk/bos/eos/pad ids, dummy prefix, whitespace handling, normalisation rule name).
 * Fields this reader does not need are skipped by their wire type, so newer files with more fields still read.
 */
import { KvError } from '../util/errors.js';

/** SentencePiece piece types (sentencepiece_model.proto's SentencePiece.Type). */
export const SentencePieceType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;

export interface SentencePiece {
  piece: string;
  score: number;
  type: number;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  /** TrainerSpec.model_type: 1 unigram, 2 BPE, 3 word, 4 char (protobuf default 1). */
  modelType: number;
  byteFallback: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  /** NormalizerSpec.name ('identity', 'nmt_nfkc', ...); '' when absent. */
  normalizerName: string;
  /** Whether the normalizer carries a compiled character map (a real normalisation, not identity). */
  hasCharsMap: boolean;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // a piece may be U+FEFF itself

/** A protobuf reader over bytes [pos, end): varints, fixed32 and length-delimited fields. */
class Reader {
  constructor(
    private readonly buf: Uint8Array,
    public pos: number,
    private readonly end: number,
    private readonly where: string,
  ) {}
  get done(): boolean {
    return this.pos >= this.end;
  }
  private fail(what: string): never {
    throw new KvError(`${this.where}: not a SentencePiece model (${what} at byte ${this.pos}); the file is damaged or of another kind`);
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('a truncated varint');
      const b = this.buf[this.pos++]!;
      if (i < 8) v += (b & 0x7f) * mul; // lengths and flags: far below 2^53
      mul *= 128;
      if ((b & 0x80) === 0) return v;
    }
    return this.fail('a varint longer than 10 bytes');
  }
  /** An int32 field: negative values are sign-extended to 64 bits on the wire, so only the low 32 bits count. */
  int32(): number {
    let low = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('a truncated varint');
      const b = this.buf[this.pos++]!;
      if (i < 5) low += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return (low % 2 ** 32) | 0;
    }
    return this.fail('a varint longer than 10 bytes');
  }
  float(): number {
    if (this.pos + 4 > this.end) this.fail('a truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }
  /** A length-delimited field as [start, end). */
  span(): [number, number] {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`a field of ${n} bytes running past its end`);
    const s = this.pos;
    this.pos += n;
    return [s, this.pos];
  }
  string(): string {
    const [s, e] = this.span();
    try {
      return utf8.decode(this.buf.subarray(s, e));
    } catch {
      return this.fail('a string that is not UTF-8');
    }
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.span();
    else if (wire === 5) this.pos += 4;
    else this.fail(`wire type ${wire}`);
    if (this.pos > this.end) this.fail('a field running past its end');
  }
  /** Calls `field(number, wire)` for each field; it reads the value or returns false to skip it. */
  fields(field: (num: number, wire: number) => boolean): void {
    while (!this.done) {
      const tag = this.varint();
      const num = Math.floor(tag / 8);
      const wire = tag % 8;
      if (num === 0) this.fail('field number 0');
      if (!field(num, wire)) this.skip(wire);
    }
  }
  sub(): Reader {
    const [s, e] = this.span();
    return new Reader(this.buf, s, e, this.where);
  }
}

/** Parses a tokenizer.model; KvError naming `where` when it is not a SentencePiece model. */
export function parseSentencePieceModel(bytes: Uint8Array, where: string): SentencePieceModel {
  const m: SentencePieceModel = {
    pieces: [],
    modelType: 1,
    byteFallback: false,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    normalizerName: '',
    hasCharsMap: false,
    addDummyPrefix: true,
    removeExtraWhitespaces: true,
    escapeWhitespaces: true,
  };
  const top = new Reader(bytes, 0, bytes.length, where);
  top.fields((num, wire) => {
    if (num === 1 && wire === 2) {
      const pr = top.sub();
      const p: SentencePiece = { piece: '', score: 0, type: SentencePieceType.Normal };
      pr.fields((n, w) => {
        if (n === 1 && w === 2) p.piece = pr.string();
        else if (n === 2 && w === 5) p.score = pr.float();
        else if (n === 3 && w === 0) p.type = pr.int32();
        else return false;
        return true;
      });
      m.pieces.push(p);
      return true;
    }
    if (num === 2 && wire === 2) {
      const tr = top.sub();
      tr.fields((n, w) => {
        if (w !== 0) return false;
        if (n === 3) m.modelType = tr.int32();
        else if (n === 35) m.byteFallback = tr.varint() !== 0;
        else if (n === 40) m.unkId = tr.int32();
        else if (n === 41) m.bosId = tr.int32();
        else if (n === 42) m.eosId = tr.int32();
        else if (n === 43) m.padId = tr.int32();
        else return false;
        return true;
      });
      return true;
    }
    if (num === 3 && wire === 2) {
      const nr = top.sub();
      nr.fields((n, w) => {
        if (n === 1 && w === 2) m.normalizerName = nr.string();
        else if (n === 2 && w === 2) {
          const [s0, e0] = nr.span();
          m.hasCharsMap = e0 > s0;
        }
        else if (n === 3 && w === 0) m.addDummyPrefix = nr.varint() !== 0;
        else if (n === 4 && w === 0) m.removeExtraWhitespaces = nr.varint() !== 0;
        else if (n === 5 && w === 0) m.escapeWhitespaces = nr.varint() !== 0;
        else return false;
        return true;
      });
      return true;
    }
    return false;
  });
  if (m.pieces.length === 0) throw new KvError(`${where}: not a SentencePiece model (no pieces); the file is damaged or of another kind`);
  return m;
}
