/**
 * A tiny tokenizer for session tests: id 0 is BOS (`<s>`), id 1 EOS (`</s>`), and ids 2.. stand for one character
 * each of ALPHABET (lower case first), so any random model's token can be decoded.
 */
import { TokenType, type Tokenizer } from '../../src/tokenizer/tokenizer.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?[]<>/';

export function letterTokenizer(vocabSize: number): Tokenizer {
  const piece = (id: number) => (id === 0 ? '<s>' : id === 1 ? '</s>' : ALPHABET[id - 2]!);
  const bytes = (id: number) => new TextEncoder().encode(id < 2 ? '' : piece(id));
  const tok: Tokenizer = {
    family: 'spm',
    vocabSize,
    bos: 0,
    eos: 1,
    eot: undefined,
    stopIds: [1],
    addBos: true,
    addEos: false,
    encode(text, options = {}) {
      const ids: number[] = [];
      for (let i = 0; i < text.length; i++) {
        if ((options.parseSpecial ?? true) && text.startsWith('<s>', i)) {
          ids.push(0);
          i += 2;
          continue;
        }
        const id = ALPHABET.indexOf(text[i]!) + 2;
        if (id < 2 || id >= vocabSize) throw new Error(`letter tokenizer cannot encode ${JSON.stringify(text)}`);
        ids.push(id);
      }
      return (options.addSpecial ?? true) ? [0, ...ids] : ids;
    },
    decode(ids) {
      let s = '';
      for (let i = 0; i < ids.length; i++) s += ids[i]! < 2 ? '' : piece(ids[i]!);
      return s;
    },
    createDecoder() {
      return { push: (id: number) => (id < 2 ? '' : piece(id)), flush: () => '' };
    },
    tokenToPiece: piece,
    tokenBytes: bytes,
    pieceToToken: (p) => {
      for (let i = 0; i < vocabSize; i++) if (piece(i) === p) return i;
      return undefined;
    },
    tokenType: (id) => (id < 2 ? TokenType.Control : TokenType.Normal),
  };
  return tok;
}
