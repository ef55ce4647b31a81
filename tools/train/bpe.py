"""Byte-level BPE tokenizer with GPT-2's byte<->unicode mapping and GPT-2's pre-tokenizer regex.

Merges that would create a token containing an ASCII digit are never learned, so every digit stays its own token
(and a space before a number stays a separate `Ġ` token). Vocabulary: ids 0..255 are the bytes, then the merges in
rank order, then `<|endoftext|>` (BOS and EOS) as the last id.
"""
from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from pathlib import Path

import regex

# GPT-2's pre-tokenizer, verbatim (llama.cpp `pre = "gpt2"`).
PRETOKENIZE = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
EOT = "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_UNI = bytes_to_unicode()
UNI_TO_BYTE = {c: b for b, c in BYTE_TO_UNI.items()}
DIGITS = set(b"0123456789")


def train_bpe(texts: list[str], vocab_size: int) -> "Tokenizer":
    """Learns vocab_size - 257 merges from word counts (deterministic: ties break on the smaller id pair)."""
    counts: Counter[bytes] = Counter()
    for t in texts:
        for w in PRETOKENIZE.findall(t):
            counts[w.encode("utf-8")] += 1
    words: list[list[int]] = []
    freq: list[int] = []
    for w, c in sorted(counts.items()):
        if any(b in DIGITS for b in w) or len(w) < 2:
            continue  # digits never merge; single bytes have no pairs
        words.append(list(w))
        freq.append(c)
    token_bytes: list[bytes] = [bytes([b]) for b in range(256)]
    pair_count: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for i, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_count[p] += freq[i]
            where[p].add(i)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    n_merges = vocab_size - 257
    while len(merges) < n_merges and heap:
        negc, p = heapq.heappop(heap)
        if pair_count.get(p, 0) != -negc or negc == 0:
            continue  # stale heap entry
        new_id = len(token_bytes)
        token_bytes.append(token_bytes[p[0]] + token_bytes[p[1]])
        merges.append(p)
        changed: dict[tuple[int, int], int] = defaultdict(int)
        for i in list(where[p]):
            w, f = words[i], freq[i]
            for q in zip(w, w[1:]):
                changed[q] -= f
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == p[0] and w[j + 1] == p[1]:
                    out.append(new_id)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            for q in zip(out, out[1:]):
                changed[q] += f
                where[q].add(i)
        for q, d in changed.items():
            if d:
                pair_count[q] += d
                if pair_count[q] > 0:
                    heapq.heappush(heap, (-pair_count[q], q))
        pair_count.pop(p, None)
        where.pop(p, None)
    return Tokenizer.from_bytes(token_bytes, merges)


class Tokenizer:
    def __init__(self, vocab: list[str], merges: list[tuple[str, str]]):
        self.vocab = vocab  # token strings (GPT-2 unicode form), last one is <|endoftext|>
        self.merges = merges
        self.id_of = {t: i for i, t in enumerate(vocab)}
        self.eot_id = self.id_of[EOT]
        self.rank = {(self.id_of[a], self.id_of[b]): r for r, (a, b) in enumerate(merges)}
        self.merged = {(self.id_of[a], self.id_of[b]): self.id_of[a + b] for a, b in merges}
        self.token_bytes = [
            EOT.encode() if t == EOT else bytes(UNI_TO_BYTE[c] for c in t) for t in vocab
        ]
        self._cache: dict[str, list[int]] = {}

    @staticmethod
    def from_bytes(token_bytes: list[bytes], merges: list[tuple[int, int]]) -> "Tokenizer":
        uni = ["".join(BYTE_TO_UNI[b] for b in tb) for tb in token_bytes]
        return Tokenizer(uni + [EOT], [(uni[a], uni[b]) for a, b in merges])

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({
            "model": "gpt2-bpe",
            "pre": "gpt2",
            "vocab": self.vocab,
            "merges": [f"{a} {b}" for a, b in self.merges],
            "bos_id": self.eot_id,
            "eos_id": self.eot_id,
            "special": {EOT: self.eot_id},
        }, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @staticmethod
    def load(path: Path) -> "Tokenizer":
        d = json.loads(path.read_text(encoding="utf-8"))
        return Tokenizer(d["vocab"], [tuple(m.split(" ")) for m in d["merges"]])

    def _word(self, w: str) -> list[int]:
        ids = self._cache.get(w)
        if ids is not None:
            return ids
        ids = [self.id_of[BYTE_TO_UNI[b]] for b in w.encode("utf-8")]
        while len(ids) > 1:
            best, bi = None, -1
            for i in range(len(ids) - 1):
                r = self.rank.get((ids[i], ids[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            ids = ids[:bi] + [self.merged[(ids[bi], ids[bi + 1])]] + ids[bi + 2:]
        if len(self._cache) < 500_000:
            self._cache[w] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """Plain text only: `<|endoftext|>` in text is NOT parsed as the special token."""
        out: list[int] = []
        for w in PRETOKENIZE.findall(text):
            out.extend(self._word(w))
        return out

    def decode(self, ids: list[int]) -> str:
        return b"".join(self.token_bytes[i] for i in ids).decode("utf-8", errors="replace")
