"""Training sequences: plain prose, and synthetic retrieval tasks (needles) placed inside prose.

Needles and questions are tokenized on their own and spliced between prose tokens only before a word-start token
(`Ġ` + letter), so the spliced ids equal the tokenization of the concatenated text.
"""
from __future__ import annotations

import random

import numpy as np

from bpe import Tokenizer

PASSKEY_NEEDLE = " The pass key is {k}. Remember it. {k} is the pass key."
PASSKEY_QUESTION = "\nWhat is the pass key? The pass key is"
KV_NEEDLE = " The special magic number for {x} is {n}."
KV_QUESTION = "\nWhat is the special magic number for {x}? The special magic number for {x} is"
# Task families a phase's `mix` may name: v1's four, then the v2 skill families of skills.py.
MIX_NAMES = ("prose", "passkey", "kv", "induction", "needles", "ruler_niah", "vt", "cwe", "qa", "copy_doc",
             "niah_like", "paraphrase_qa", "ruler_multikey")


class TaskMaker:
    def __init__(self, tok: Tokenizer, stream: np.ndarray, answer_weight: float):
        self.tok = tok
        self.stream = stream  # uint16 token ids of the books, separated by <|endoftext|>
        self.answer_weight = answer_weight
        starts = np.zeros(len(tok.vocab), dtype=bool)
        words = []
        for i, t in enumerate(tok.vocab):
            if len(t) >= 2 and t[0] == "Ġ" and t[1].isalpha():
                starts[i] = True
                if 4 <= len(t) - 1 <= 9 and t[1:].isascii() and t[1:].islower():
                    words.append(t[1:])
        self.word_start = starts
        self.words = sorted(words)  # key vocabulary for the key-value needles
        self._skills = None

    def _prose(self, rng: random.Random, n: int) -> list[int]:
        """n prose ids that END just before a word-start token, so a needle or question may follow them.

        They may begin mid-word: callers put them first (after BOS, which llama.cpp tokenizes apart)."""
        o = rng.randrange(0, len(self.stream) - n - 256)
        win = self.stream[o + n:o + n + 256]
        ws = np.flatnonzero(self.word_start[win])
        e = o + n + (int(ws[0]) if len(ws) else 0)
        return self.stream[e - n:e].tolist()

    def prose(self, rng: random.Random, length: int) -> tuple[list[int], list[float]]:
        o = rng.randrange(0, len(self.stream) - length - 1)
        ids = self.stream[o:o + length + 1].tolist()
        return ids, [1.0] * length

    def retrieval(self, rng: random.Random, length: int, kind: str) -> tuple[list[int], list[float]]:
        enc = self.tok.encode
        needles: list[list[int]] = []
        qas: list[tuple[list[int], list[int], list[int]]] = []  # question, answer, trailer
        if kind == "passkey" or (kind == "kv" and rng.random() < 0.3):
            k = str(rng.randrange(10000, 100000))
            needles.append(enc(PASSKEY_NEEDLE.format(k=k)))
            pk = (enc(PASSKEY_QUESTION), enc(" " + k), [])
        else:
            pk = None
        if kind == "kv":
            n = rng.choice([1, 1, 2, 2, 3, 4, 5, 6])
            keys = set()
            while len(keys) < n:
                keys.add(f"{rng.choice(self.words)}-{rng.choice(self.words)}")
            for x in sorted(keys):
                d = rng.randrange(4, 8)
                num = str(rng.randrange(10 ** (d - 1), 10 ** d))
                needles.append(enc(KV_NEEDLE.format(x=x, n=num)))
                qas.append((enc(KV_QUESTION.format(x=x)), enc(" " + num), enc(".")))
            rng.shuffle(qas)
            rng.shuffle(needles)
            if rng.random() < 0.4:
                qas = qas[: rng.randint(1, len(qas))]
        if pk is not None:
            qas.append(pk)  # the pass key question, when present, is asked last (as in the evaluation)
        bos = [self.tok.eot_id] if rng.random() < 0.8 else []
        fixed = len(bos) + sum(map(len, needles)) + sum(len(q) + len(a) + len(t) for q, a, t in qas)
        n_prose = length + 1 - fixed
        if n_prose < 16:
            return self.prose(rng, length)
        prose = self._prose(rng, n_prose)
        cuts = sorted(rng.randrange(0, n_prose + 1) for _ in needles)
        ids, w = list(bos), [1.0] * len(bos)
        prev = 0
        for cut, nd in zip(cuts, needles):
            while cut < n_prose and not self.word_start[prose[cut]]:
                cut += 1
            cut = max(cut, prev)
            ids += prose[prev:cut] + nd
            w += [1.0] * (cut - prev + len(nd))
            prev = cut
        ids += prose[prev:]
        w += [1.0] * (n_prose - prev)
        for q, a, t in qas:
            ids += q + a + t
            w += [1.0] * len(q) + [self.answer_weight] * len(a) + [1.0] * len(t)
        ids = ids[: length + 1]
        # w[j] weighs the prediction OF ids[j]; the loss at position i predicts ids[i + 1]
        return ids, w[1: length + 1]

    def random_repeat(self, rng: random.Random, length: int) -> tuple[list[int], list[float]]:
        """A block of random tokens (16 to length/2) repeated to fill the sequence: the classic induction task. Only
        copying predicts anything after the first block, so it bootstraps retrieval heads within ~100 steps where
        the same signal diluted in prose took far longer. The first block carries no loss."""
        b = rng.randint(16, length // 2)
        block = [rng.randrange(self.tok.eot_id) for _ in range(b)]
        ids = (block * (length // b + 2))[: length + 1]
        return ids, [0.0] * (b - 1) + [1.0] * (length - b + 1)

    def dense_repeat(self, rng: random.Random, length: int, density: float, weight: float
                     ) -> tuple[list[int], list[float]]:
        """Like `repeat` with random spans, but `density` span pairs per 256 tokens, each pair inside its own segment
        (so no pair overwrites another's source), and the copied tokens weighted by `weight`: a strong, clean
        retrieval signal, as in the classic repeated-random-tokens induction task, while the prose around keeps
        the language-model loss."""
        ids, w = self.prose(rng, length)
        k = max(1, round(length / 256 * density))
        g = length // k
        for i in range(k):
            base = i * g
            c = rng.randint(8, max(8, min(32, g // 3)))
            s = base + rng.randrange(1, max(2, g - 2 * c))
            d = rng.randrange(s + c, max(s + c + 1, base + g - c + 1))
            if rng.random() < 0.5:
                ids[s:s + c] = [rng.randrange(self.tok.eot_id) for _ in range(c)]
            ids[d:d + c] = ids[s:s + c]
            for j in range(d + 1, d + c):  # w[j - 1] weighs the prediction of ids[j]
                w[j - 1] = weight
        return ids, w

    def repeat(self, rng: random.Random, length: int, random_spans: bool = False) -> tuple[list[int], list[float]]:
        """Prose in which earlier spans reappear verbatim later: every token of a copy after its first is predictable
        only by looking back, a dense signal that makes induction (retrieval) heads form far sooner than the few
        answer tokens of the needle tasks alone. With `random_spans`, half the spans are random tokens (8-64) put in
        at both places: nothing but the earlier copy predicts them, so the whole gradient of those tokens is retrieval.
        """
        ids, w = self.prose(rng, length)
        if not random_spans:
            for _ in range(max(1, length // 512)):
                c = rng.randint(16, min(128, length // 4))
                s = rng.randrange(1, length + 1 - 2 * c)
                d = rng.randrange(s + c, length + 2 - c)
                ids[d:d + c] = ids[s:s + c]
            return ids, w
        for _ in range(max(1, length // 256)):
            c = rng.randint(8, min(64, length // 8))
            s = rng.randrange(1, length + 1 - 2 * c)
            d = rng.randrange(s + c, length + 2 - c)
            if rng.random() < 0.5:
                ids[s:s + c] = [rng.randrange(self.tok.eot_id) for _ in range(c)]
            ids[d:d + c] = ids[s:s + c]
        return ids, w

    def skills(self):
        if self._skills is None:
            from skills import Skills
            self._skills = Skills(self.tok, self.stream, self.answer_weight, self.words)
        return self._skills

    def sample_mix(self, rng: random.Random, length: int, mix: dict[str, float]) -> tuple[list[int], list[float]]:
        """One sequence of the task family drawn from `mix` ({name: weight}, names in MIX_NAMES): v1's prose, pass
        key, key-value needles and repeated random blocks, or a v2 skill family (skills.py)."""
        names = sorted(mix)
        name = rng.choices(names, weights=[mix[k] for k in names])[0]
        if name == "prose":
            return self.prose(rng, length)
        if name == "passkey":
            return self.retrieval(rng, length, "passkey")
        if name == "kv":
            return self.retrieval(rng, length, "kv")
        if name == "induction":
            return self.random_repeat(rng, length)
        r = self.skills().make(rng, length, name)
        return r if r is not None else self.prose(rng, length)

    def sample(self, rng: random.Random, length: int, copy_share: float = 0.0, random_spans: bool = False,
               span_density: float = 0.0, span_weight: float = 1.0, induction_share: float = 0.0,
               mix: dict[str, float] | None = None) -> tuple[list[int], list[float]]:
        if mix:
            return self.sample_mix(rng, length, mix)
        if induction_share > 0 and rng.random() < induction_share:
            return self.random_repeat(rng, length)
        if copy_share > 0 and rng.random() < copy_share:  # no draw without copies: old runs replay exactly
            if span_density > 0:
                return self.dense_repeat(rng, length, span_density, span_weight)
            return self.repeat(rng, length, random_spans)
        r = rng.random()
        if r < 0.25:
            return self.prose(rng, length)
        if r < 0.6:
            return self.retrieval(rng, length, "passkey")
        return self.retrieval(rng, length, "kv")


def passkey_prompt(tok: Tokenizer, prose: list[int], word_start: np.ndarray, key: str, depth: float, bos: bool = True
                   ) -> tuple[list[int], list[int]]:
    """The evaluation format: prose with the needle at `depth`, then the question. Returns (prompt ids, answer ids)."""
    cut = int(len(prose) * depth)
    while cut < len(prose) and not word_start[prose[cut]]:
        cut += 1
    ids = ([tok.eot_id] if bos else []) + prose[:cut] + tok.encode(PASSKEY_NEEDLE.format(k=key)) + prose[cut:]
    return ids + tok.encode(PASSKEY_QUESTION), tok.encode(" " + key)
