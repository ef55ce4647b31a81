"""Retrieval as a skill (built-in model v2, docs/default-model.md "v2"): text-level task generators for the training
mixture. Each builds a prompt and its answer as TEXT, tokenized the way the laboratory tokenizes its prompts
(BOS + encode(prompt), the answer being what the model should generate after it), fitted to a token budget, with
the rest of the sequence packed with training-book prose after an `<|endoftext|>`.

Families (the `mix` names of a phase):
  needles      many needle wordings and value types (numbers, words, UUIDs, names, cities, times, phrases), 1-6
               needles with distractors of the same wording, questions in completion style ("... X is") or
               "Question: ...\\nAnswer:" style with paraphrased questions
  ruler_niah   RULER's niah template (noise / essay / distractor-needle haystacks; word, number or UUID keys and
               values; multi-key, multi-value, multi-query), with some re-worded variants of the template
  vt           RULER's variable tracking (1-2 chains, 1-6 hops, the one-shot example as RULER prepends it)
  cwe          RULER's common-words extraction (numbered word list, one-shot example)
  qa           short QA over passages: LongBench-style instructions, 2-8 prose passages, one holds the fact asked
  copy_doc     "repeat the passage": a short passage, then an instruction and the passage again (long copies)
  niah_like    (step 3,420 on) the standard needle test's shape: one "The best thing to ... in <city> is <phrase>." needle
  paraphrase_qa (step 3,420 on) one needle, a question sharing few words with it, "Question: ...\nAnswer:"
  ruler_multikey (step 4,250 on) ruler_niah with 2-5 keys (essay or distractor-needle haystack) and one asked

Disjointness from the laboratory's evaluation (see docs/default-model.md):
  - all prose comes from the 'train' books (the token stream of train.py); never the 'haystack' or 'validation' books
  - samples come from Python's random.Random(f"{seed}:{step}"), not from the engine's seeded generators
  - held-out answers: no answer is one of the niah-paraphrase task's values (`EVAL_VALUES`)
  - held-out wordings: the standard needle (San Francisco, sandwich, Dolores Park) and the eight niah-paraphrase
    templates (src/eval/tasks/paraphrased-needles.ts) are never generated: no key or value word is a `HELD_OUT` word, and
    `check_held_out` asserts on every generated needle and question that none occurs (book prose may contain such
    words by itself, as any text does)
"""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."

# Words of the held-out evaluation wordings (standard needle and niah-paraphrase templates); no sample may contain
# any of them (case-insensitive, whole words).
HELD_OUT = ["San Francisco", "Dolores", "sandwich", "Marguerite", "boathouse", "observatory", "star-gazing",
            "Ortega", "Lisbon", "Lindqvist", "Amara", "Aunt Rosa", "lighthouse keeper", "gulls", "Halvorsen",
            "ledger", "Elsa and Nils", "seabirds"]
_HELD_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in HELD_OUT) + r")\b", re.I)


def check_held_out(text: str) -> None:
    m = _HELD_RE.search(text)
    if m:
        raise AssertionError(f"skills: held-out evaluation wording {m.group(0)!r} in a training sample")


def _paraphrase_values() -> set[str]:
    """The niah-paraphrase task's answer values (src/eval/tasks/paraphrased-needles.ts), never trained as answers."""
    f = REPO / "src" / "eval" / "tasks" / "paraphrased-needles.ts"
    if not f.exists():
        return set()
    vals = set()
    for m in re.finditer(r"values: \[([^\]]*)\]", f.read_text(encoding="utf-8")):
        vals |= {v.lower() for v in re.findall(r"'([^']*)'", m.group(1))}
    return vals


EVAL_VALUES = _paraphrase_values()


def _ts_words(name: str) -> list[str]:
    src = (REPO / "src" / "eval" / "tasks" / "english-words.ts").read_text(encoding="utf-8")
    m = re.search(r"const " + name + r" = `([^`]*)`", src)
    return list(dict.fromkeys(m.group(1).split())) if m else []


ADJECTIVES = _ts_words("ADJECTIVES")
NOUNS = _ts_words("NOUNS")
VERBS = _ts_words("VERBS")
ENGLISH_WORDS = sorted(set(ADJECTIVES) | set(NOUNS) | set(VERBS))

FIRST = ("Anna Bruno Clara Daniel Edith Felix Greta Hugo Irene Jonas Karl Lena Marco Nora Oscar Paula Quentin Rita "
         "Simon Tessa Ulrich Vera Walter Yusuf Zora Agnes Boris Cecil Dora Emil Fiona Gustav Hanna Ivan Julia Kasimir "
         "Lydia Mateo Nadia Otto Priya Rafael Sonja Tomas Ursula Viktor Wanda Xavier Yara Zeno Alice Henry Martha "
         "George Ruth Arthur Helen Frank Grace Louis Emma Peter Rosa Thomas Mabel James Olive Samuel Ivy Leon "
         "Beatrice Conrad Delia Ernest Flora Gilbert Harriet Isaac Josephine").split()
LAST = ("Abbott Brandt Castell Dubois Ekland Fischer Garrow Holm Ibsen Jansen Kowal Larsen Moreau Novak Olsen Petrov "
        "Quill Rasmussen Sato Tanaka Ueda Varga Weber Yilmaz Zeller Ashford Blackwood Carver Drummond Ellison "
        "Fairbanks Granger Hartley Ingram Jessop Kendrick Lockwood Marsh Norwood Pemberton Radcliffe Sinclair "
        "Thorne Underwood Vance Whitaker").split()
CITIES = ("Paris Berlin Vienna Prague Madrid Rome Athens Dublin Oslo Stockholm Helsinki Warsaw Budapest Zurich "
          "Geneva Munich Hamburg Milan Naples Seville Porto Krakow Riga Tallinn Vilnius Bergen Antwerp Lyon "
          "Marseille Florence Venice Edinburgh Glasgow Cardiff Belfast Bristol Leeds York Boston Chicago Denver "
          "Seattle Portland Austin Houston Dallas Atlanta Miami Toronto Montreal Vancouver Quebec Ottawa Havana "
          "Lima Quito Bogota Santiago Caracas Montevideo Cairo Tunis Nairobi Lagos Accra Dakar Algiers Casablanca "
          "Istanbul Ankara Tehran Baghdad Damascus Beirut Amman Delhi Mumbai Madras Calcutta Lahore Karachi Dhaka "
          "Colombo Bangkok Hanoi Manila Jakarta Singapore Shanghai Beijing Canton Tokyo Osaka Kyoto Seoul Sydney "
          "Melbourne Perth Adelaide Auckland Wellington Reykjavik Copenhagen Brussels Amsterdam Rotterdam Leipzig "
          "Dresden Salzburg Trieste Genoa Turin Bologna Valencia Granada Toledo Bordeaux Nantes Lille Strasbourg").split()
CITIES += ["New York", "Los Angeles", "New Orleans", "Buenos Aires", "Rio de Janeiro", "Mexico City", "Cape Town",
           "Hong Kong", "St. Petersburg", "Salt Lake City", "Kansas City", "Tel Aviv", "Kuala Lumpur"]
COLORS = "red blue green yellow black white grey brown purple orange silver golden pink violet scarlet amber".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
PROFESSIONS = ("baker teacher doctor sailor painter farmer lawyer tailor miner clerk nurse pilot engineer carpenter "
               "gardener chemist banker printer soldier merchant").split()
FOODS = "soup bread cheese pie cake apples rice fish noodles dumplings pastry oysters olives figs honey".split()
PLACES = ("the old market", "the city park", "the harbour", "the botanical garden", "the cathedral square",
          "the riverside", "the castle hill", "the public library", "the main bridge", "the opera house",
          "the zoo", "the flower market", "the old town", "the central station", "the lakeside")


def uuid(rng: random.Random) -> str:
    b = bytearray(rng.getrandbits(8) for _ in range(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def number(rng: random.Random, lo: int = 2, hi: int = 7) -> str:
    d = rng.randint(lo, hi)
    return str(rng.randrange(10 ** (d - 1), 10 ** d))


def join_and(xs: list[str]) -> str:
    return xs[0] if len(xs) == 1 else ", ".join(xs[:-1]) + ", and " + xs[-1]


class Skills:
    def __init__(self, tok, stream: np.ndarray, answer_weight: float, vocab_words: list[str]):
        self.tok, self.stream, self.aw = tok, stream, answer_weight
        # Frequent whole lowercase words (4-9 letters) of a slice of the training text: real words for keys and
        # lists (the tokenizer's word-start tokens include word pieces such as "suffici").
        text = tok.decode([t for t in stream[:3_000_000].tolist() if t != tok.eot_id])
        counts: dict[str, int] = {}
        for w in re.findall(r"(?<![A-Za-z'-])[a-z]{4,9}(?![A-Za-z'-])", text):
            counts[w] = counts.get(w, 0) + 1
        common = sorted(counts, key=lambda w: (-counts[w], w))[:3000]
        self.words = [w for w in sorted(set(common) | set(ENGLISH_WORDS))
                      if not _HELD_RE.search(w) and w not in EVAL_VALUES]
        self.eot = tok.eot_id

    # --- helpers -------------------------------------------------------------------------------------------------
    def name(self, rng) -> str:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.6 else rng.choice(FIRST)

    def word_key(self, rng) -> str:
        if rng.random() < 0.5:
            return f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        return f"{rng.choice(self.words)}-{rng.choice(self.words)}"

    def value(self, rng, kind: str) -> str:
        if kind == "numbers":
            return str(rng.randrange(1_000_000, 10_000_000)) if rng.random() < 0.7 else number(rng)
        if kind == "uuids":
            return uuid(rng)
        return self.word_key(rng)

    def prose_text(self, rng, n_tokens: int, flat: bool = False) -> str:
        n_tokens = max(8, n_tokens)
        o = rng.randrange(0, len(self.stream) - n_tokens - 1)
        text = self.tok.decode([t for t in self.stream[o:o + n_tokens].tolist() if t != self.eot])
        # start at a sentence or paragraph start, end at a sentence end
        m = re.search(r"(?<=[.!?\n])\s+(?=[A-Z\"'])", text[:400])
        if m:
            text = text[m.end():]
        e = max(text.rfind(". "), text.rfind(".\n"), text.rfind("? "), text.rfind("! "))
        if e > len(text) // 2:
            text = text[:e + 1]
        return " ".join(text.split()) if flat else text.strip()

    @staticmethod
    def sentence_cuts(text: str) -> list[int]:
        return [m.end() for m in re.finditer(r"[.!?][\"')\]]*(?=\s)", text)]

    def insert(self, rng, text: str, needles: list[str], depths: list[float] | None = None, raw: bool = False
               ) -> str:
        """Needles at sentence boundaries at the given depths (fractions; random when None)."""
        cuts = self.sentence_cuts(text) or [len(text)]
        if depths is None:
            depths = [rng.random() for _ in needles]
        at = sorted((cuts[min(len(cuts) - 1, int(d * len(cuts)))] if d > 0 else 0, i) for i, d in
                    enumerate(depths))
        out, prev = [], 0
        for pos, i in at:
            out.append(text[prev:pos])
            sep = "\n" if raw else " "
            out.append((sep if pos > 0 else "") + needles[i] + (sep if pos < len(text) else ""))
            prev = pos
            while prev < len(text) and text[prev] == " ":
                prev += 1
        out.append(text[prev:])
        return "".join(out).strip()

    def fit(self, rng, length: int, build, guess: int, lo: int = 0) -> tuple[list[int], list[int]] | None:
        """build(n) -> (prompt, answer); n (haystack size: prose tokens, lines, words) is searched so that
        BOS + prompt + answer + EOT fits length + 1 tokens with little to spare (tokens ~ linear in n).
        Returns (prompt ids with BOS, answer ids) or None."""
        enc = self.tok.encode
        target = length - rng.randint(1, max(2, length // 40))  # a little room for the EOT and packed prose
        slack = max(8, target // 25)
        pts: dict[int, int] = {}
        best = None

        def probe(n: int) -> int:
            nonlocal best
            prompt, answer = build(n)
            p, a = enc(prompt), enc(answer)
            total = 1 + len(p) + len(a)
            pts[n] = total
            if total <= target and (best is None or total > best[3]):
                best = (p, a, prompt + answer, total)
            return total

        n = max(lo, guess)
        probe(n)
        probe(max(lo, n // 2) if n // 2 != n else n + 1)
        for _ in range(6):
            if best is not None and best[3] >= target - slack:
                break
            (n1, t1), (n2, t2) = sorted(pts.items())[0], sorted(pts.items())[-1]
            slope = (t2 - t1) / max(1, n2 - n1) if n2 != n1 else 1.0
            below = [k for k, t in pts.items() if t <= target]
            base = max(below, key=lambda k: pts[k]) if below else min(pts)
            nn = int(base + (target - slack / 2 - pts[base]) / max(1e-6, slope))
            nn = max(lo, nn)
            if nn in pts:
                nn = nn - 1 if pts[nn] > target else nn + 1
            if nn < lo:
                break
            probe(nn)
        if best is None:
            return None
        return [self.eot] + best[0], best[1]

    def pack(self, rng, length: int, prompt: list[int], answer: list[int], ctx_w: float
             ) -> tuple[list[int], list[float]]:
        ids = prompt + answer + [self.eot]
        w = [ctx_w] * (len(prompt) - 1) + [self.aw] * len(answer) + [1.0]
        need = length + 1 - len(ids)
        if need > 0:
            o = rng.randrange(0, len(self.stream) - need - 1)
            ids += self.stream[o:o + need].tolist()
            w += [1.0] * need
        return ids[:length + 1], w[:length]

    def make(self, rng, length: int, family: str) -> tuple[list[int], list[float]] | None:
        fn = getattr(self, "t_" + family)
        r = fn(rng, length)
        if r is None:
            return None
        prompt, answer, ctx_w = r
        return self.pack(rng, length, prompt, answer, ctx_w)

    # --- needle families ------------------------------------------------------------------------------------------
    def needle_fact(self, rng, shape: str | None = None) -> dict:
        f = self._needle_fact(rng, shape)
        while f["answer"].lower() in EVAL_VALUES:
            f = self._needle_fact(rng, shape)
        check_held_out(" ".join([f["needle"], f["q"], f["prefix"], f["answer"]] + f["alt"]))
        return f

    def _needle_fact(self, rng, shape: str | None = None) -> dict:
        """One fact: needle sentence, completion question + prefix, paraphrased "Question:" forms, the answer, and a
        `key` that distinguishes distractors of the same shape."""
        shapes = ["code", "city", "box", "number_for", "born", "favourite", "best", "hide", "ship", "train", "meet",
                  "price", "pet", "job", "door", "year", "uuid", "colour"]
        s = shape or rng.choice(shapes)
        n = self.name(rng)
        if s == "code":
            adj = rng.choice(["secret", "hidden", "special", "magic", "chosen", "agreed"])
            what = rng.choice(["code word", "password", "keyword", "watchword", "secret word"])
            v = rng.choice(self.words) if rng.random() < 0.7 else self.word_key(rng)
            own = f"{n}'s " if rng.random() < 0.5 else "the "
            subj = f"{own}{adj} {what}"
            return dict(needle=f"{subj[0].upper() + subj[1:]} is {v}.", q=f"What is {subj}?",
                        prefix=f"{subj[0].upper() + subj[1:]} is", alt=[f"Which {what} was chosen by {n}?"
                                                                        if own != "the " else f"Tell me the {what}."],
                        answer=v, key=subj)
        if s == "city":
            c = rng.choice(CITIES)
            verb = rng.choice(["lives", "works", "was born", "grew up", "studied"])
            return dict(needle=f"{n} {verb} in the city of {c}.", q=f"In which city does {n} {verb.split()[0]}?" if
                        verb in ("lives", "works") else f"In which city was {n} {verb.split()[-1]}?" if
                        verb == "was born" else f"Where {'did ' + n + ' grow up' if verb == 'grew up' else 'did ' + n + ' study'}?",
                        prefix=f"{n} {verb} in the city of", alt=[f"What town is home to {n}?", f"Name the place "
                        f"connected with {n}."], answer=c, key=n)
        if s == "box":
            col = rng.choice(COLORS)
            obj = rng.choice(["box", "jar", "chest", "envelope", "drawer", "safe", "book", "bag"])
            v = number(rng, 2, 7)
            return dict(needle=f"The secret number of the {col} {obj} is {v}.",
                        q=f"What is the secret number of the {col} {obj}?",
                        prefix=f"The secret number of the {col} {obj} is",
                        alt=[f"Which number belongs to the {col} {obj}?"], answer=v, key=col + obj)
        if s == "number_for":
            k = self.word_key(rng)
            t = rng.choice(["special magic number", "secret number", "hidden number", "lucky number",
                            "magic code", "special code"])
            v = number(rng, 4, 8)
            return dict(needle=f"The {t} for {k} is {v}.", q=f"What is the {t} for {k}?",
                        prefix=f"The {t} for {k} is", alt=[f"Which number was given for {k}?"], answer=v, key=k)
        if s == "born":
            y = str(rng.randint(1700, 2020))
            return dict(needle=f"{n} was born in the year {y}.", q=f"In which year was {n} born?",
                        prefix=f"{n} was born in the year", alt=[f"When did {n} come into the world?"],
                        answer=y, key=n)
        if s == "favourite":
            thing, vals = rng.choice([("colour", COLORS), ("food", FOODS), ("city", CITIES), ("flower",
                                      ["rose", "tulip", "daisy", "lily", "violet", "orchid", "poppy", "iris"]),
                                      ("animal", NOUNS[:200]), ("word", self.words)])
            v = rng.choice(vals)
            return dict(needle=f"{n}'s favourite {thing} is {v}.", q=f"What is {n}'s favourite {thing}?",
                        prefix=f"{n}'s favourite {thing} is", alt=[f"Which {thing} does {n} like best?",
                                                                   f"What {thing} does {n} prefer?"],
                        answer=v, key=n + thing)
        if s == "best":
            c = rng.choice(CITIES)
            verb = rng.choice(["eat", "drink", "buy", "try", "taste"])
            act = (f"{verb} {rng.choice(['a', 'some'])} {rng.choice(FOODS)} and {rng.choice(['walk', 'rest', 'read', 'sit', 'sleep', 'dance'])}"
                   f" in {rng.choice(PLACES)} on a {rng.choice(['sunny', 'quiet', 'rainy', 'warm', 'cold', 'windy'])}"
                   f" {rng.choice(['day', 'morning', 'evening', 'afternoon'])}")
            best = rng.choice(["best", "nicest", "finest", "most pleasant"])
            doing = rng.choice(["do", "see", "enjoy"])
            return dict(needle=f"The {best} thing to {doing} in {c} is {act}.",
                        q=f"What is the {best} thing to {doing} in {c}?", prefix=f"The {best} thing to {doing} in {c} is",
                        alt=[f"How should a visitor spend time in {c}?"], answer=act, key=c + best + doing)
        if s == "hide":
            obj = rng.choice(["key", "letter", "ring", "map", "coin", "watch", "diary", "photograph"])
            cont = f"{rng.choice(['a', 'the'])} {rng.choice(COLORS + ['old', 'small', 'wooden', 'tin'])} {rng.choice(['vase', 'drawer', 'boot', 'box', 'jar', 'basket', 'teacup', 'trunk', 'piano', 'clock'])}"
            return dict(needle=f"{n} hid the {obj} inside {cont}.", q=f"Where did {n} hide the {obj}?",
                        prefix=f"{n} hid the {obj} inside", alt=[f"Where can the {obj} of {n} be found?",
                                                                 f"In what place was the {obj} put away?"],
                        answer=cont, key=n + obj)
        if s == "ship":
            sh = f"{rng.choice(COLORS).capitalize()} {rng.choice(['Swan', 'Hawk', 'Wind', 'Rose', 'Star', 'Wave', 'Crown', 'Fox', 'Bell'])}"
            c = rng.choice(CITIES)
            return dict(needle=f"The ship of Captain {rng.choice(LAST)}, the {sh}, leaves for {c} tonight.",
                        q="What is the name of the captain's ship?", prefix="The captain's ship is the",
                        alt=["Which vessel is mentioned in the text?"], answer=sh, key=sh)
        if s == "train":
            c = rng.choice(CITIES)
            v = str(rng.randint(1, 24))
            return dict(needle=f"The train to {c} leaves from platform {v}.", q=f"From which platform does the train to {c} leave?",
                        prefix=f"The train to {c} leaves from platform", alt=[f"Where should one board for {c}?"],
                        answer=v, key=c)
        if s == "meet":
            v = f"{rng.choice(DAYS)} at {rng.randint(1, 12)}:{rng.choice(['00', '15', '30', '45', '05', '20', '40', '50'])}"
            return dict(needle=f"The meeting with {n} is on {v}.", q=f"When is the meeting with {n}?",
                        prefix=f"The meeting with {n} is on", alt=[f"At what time will {n} be met?"], answer=v, key=n)
        if s == "price":
            obj = rng.choice(NOUNS)
            v = f"{rng.randint(2, 999)} {rng.choice(['dollars', 'pounds', 'francs', 'crowns', 'shillings', 'marks'])}"
            return dict(needle=f"{n} paid {v} for the {obj}.", q=f"How much did {n} pay for the {obj}?",
                        prefix=f"{n} paid", alt=[f"What did the {obj} cost {n}?"], answer=v, key=n + obj)
        if s == "pet":
            pet = rng.choice(["dog", "cat", "horse", "parrot", "goat", "rabbit"])
            v = rng.choice(FIRST)
            return dict(needle=f"The name of {n}'s {pet} is {v}.", q=f"What is the name of {n}'s {pet}?",
                        prefix=f"The name of {n}'s {pet} is", alt=[f"What is {n}'s {pet} called?"], answer=v,
                        key=n + pet)
        if s == "job":
            v = rng.choice(PROFESSIONS)
            return dict(needle=f"{n} works as a {v}.", q=f"What is {n}'s profession?", prefix=f"{n} works as a",
                        alt=[f"What does {n} do for a living?"], answer=v, key=n)
        if s == "door":
            col = rng.choice(COLORS)
            v = number(rng, 3, 6)
            return dict(needle=f"The {col} door opens with the code {v}.", q=f"Which code opens the {col} door?",
                        prefix=f"The {col} door opens with the code", alt=[f"How does one get through the {col} door?"],
                        answer=v, key=col)
        if s == "year":
            ev = rng.choice(["bridge", "tower", "school", "church", "mill", "library", "theatre"])
            c = rng.choice(CITIES)
            y = str(rng.randint(1200, 1990))
            return dict(needle=f"The {ev} of {c} was built in {y}.", q=f"When was the {ev} of {c} built?",
                        prefix=f"The {ev} of {c} was built in", alt=[f"In what year did {c} get its {ev}?"],
                        answer=y, key=c + ev)
        if s == "uuid":
            k = self.word_key(rng)
            v = uuid(rng)
            return dict(needle=f"The identifier of {k} is {v}.", q=f"What is the identifier of {k}?",
                        prefix=f"The identifier of {k} is", alt=[f"Which id belongs to {k}?"], answer=v, key=k)
        # colour
        obj = rng.choice(NOUNS)
        v = rng.choice(COLORS)
        return dict(needle=f"{n}'s {obj} is painted {v}.", q=f"What colour is {n}'s {obj}?",
                    prefix=f"{n}'s {obj} is painted", alt=[f"How does the {obj} of {n} look?"], answer=v, key=n + obj)

    def t_needles(self, rng, length: int):
        k = rng.choice([1, 1, 1, 2, 2, 3, 4, 5, 6])
        facts, keys = [], set()
        same = rng.random() < 0.4  # distractors of the same wording
        shape = rng.choice([None, "code", "city", "box", "number_for", "best", "hide", "uuid"]) if same else None
        while len(facts) < k:
            f = self.needle_fact(rng, shape if same else None)
            if f["key"] in keys or any(f["answer"] == g["answer"] for g in facts):
                continue
            keys.add(f["key"])
            facts.append(f)
        style = rng.random()
        asked = rng.sample(facts, rng.randint(1, min(3, len(facts))) if style < 0.6 else 1)
        raw = rng.random() < 0.25
        depths = [rng.random() for _ in facts]
        if rng.random() < 0.3:
            depths[facts.index(asked[0])] = rng.choice([0.0, 0.0, 1.0, 0.02, 0.98])

        def tail() -> tuple[str, str]:
            if style < 0.6:  # completion style, possibly several questions
                qs = ""
                for f in asked[:-1]:
                    qs += f"\n{f['q']} {f['prefix']} {f['answer']}."
                f = asked[-1]
                return qs + f"\n{f['q']} {f['prefix']}", " " + f["answer"] + "."
            f = asked[0]
            q = rng.choice([f["q"]] + f["alt"])
            if style < 0.9:
                return f"\nQuestion: {q}\nAnswer:", " " + f["answer"]
            return f"\n\nQuestion: {q}\nAnswer:", " " + f["answer"]

        tl, ans = tail()  # with several questions the earlier answers are in the prompt; the last is generated

        def build(n):
            text = self.insert(rng, self.prose_text(random.Random(seed), n), [f["needle"] for f in facts], depths, raw)
            return text + tl, ans

        seed = rng.random()
        r = self.fit(rng, length, build, int(length * 0.85), 16)
        return None if r is None else (*r, 1.0)

    # --- v2 step 3,420 on: the standard-needle shape and single paraphrased needles, as their own families -------
    def t_niah_like(self, rng, length: int):
        """The shape of the standard needle test: one `The <best> thing to <do> in <city> is <phrase>.` needle (70%;
        else with 1-3 of the same shape for other cities), put in between newlines (60%) or between sentences,
        asked as `\nWhat is the best thing to do in <city>? The best thing to do in <city> is` -> ` <phrase>.`"""
        k = 1 if rng.random() < 0.7 else rng.randint(2, 4)
        facts, keys = [], set()
        while len(facts) < k:
            f = self.needle_fact(rng, "best")
            if rng.random() < 0.5:  # a proper-noun place, as the standard needle's park
                place = f"{rng.choice(LAST + FIRST)} {rng.choice(['Park', 'Square', 'Gardens', 'Street', 'Beach', 'Hill'])}"
                f["answer"] = re.sub(r" in the [a-z ]+ on a", f" in {place} on a", f["answer"])
                f["needle"] = f"{f['prefix']} {f['answer']}."
                check_held_out(f["needle"])
            if f["key"] in keys:
                continue
            keys.add(f["key"])
            facts.append(f)
        asked = facts[0]
        raw = rng.random() < 0.6
        depths = [rng.random() for _ in facts]
        if rng.random() < 0.3:
            depths[0] = rng.choice([0.0, 1.0, 0.02, 0.98])
        tl, ans = f"\n{asked['q']} {asked['prefix']}", " " + asked["answer"] + "."
        seed = rng.random()

        def build(n):
            text = self.insert(rng, self.prose_text(random.Random(seed), n), [f["needle"] for f in facts], depths, raw)
            return text + tl, ans
        r = self.fit(rng, length, build, int(length * 0.85), 16)
        return None if r is None else (*r, 1.0)

    def paraphrase_fact(self, rng) -> dict:
        f = self._paraphrase_fact(rng)
        while f["answer"].lower() in EVAL_VALUES:
            f = self._paraphrase_fact(rng)
        return f

    def _paraphrase_fact(self, rng) -> dict:
        """Needles whose question shares few words with them (families like the niah-paraphrase task's, none of
        its wordings: `HELD_OUT`)."""
        n = self.name(rng)
        s = rng.randrange(6)
        if s == 0:
            obj = rng.choice(["spare key", "silver ring", "old map", "last letter", "gold coin"])
            place = rng.choice(["garden shed", "wine cellar", "attic room", "stable", "chapel", "mill"])
            v = f"{rng.choice(['a', 'an old', 'a small', 'a'])} {rng.choice(COLORS + ['wooden', 'hollow', 'cracked'])} {rng.choice(['teacup', 'boot', 'vase', 'jar', 'drawer', 'hatbox', 'kettle', 'basket'])}"
            f = dict(needle=f"{n} hid the {obj} to the {place} inside {v}.",
                     q=rng.choice([f"Where is the {obj} for the {place} kept?", f"In what was the {obj} put away?",
                                   f"Where can one find what opens the {place}?"]), answer=v)
        elif s == 1:
            b = rng.choice(["old mill", "north tower", "railway station", "town hall", "glass house", "museum"])
            v = rng.choice(self.words)
            f = dict(needle=f"The password for the {b}'s door is {v}.",
                     q=rng.choice([f"Which word opens the entrance of the {b}?", f"What must be said at the gate of the {b}?"]),
                     answer=v)
        elif s == 2:
            v = rng.choice(FOODS + ["cinnamon", "saffron", "ginger", "wild thyme", "sea salt", "burnt sugar"])
            dish = rng.choice(["soup", "pie", "bread", "pudding", "curry", "sauce"])
            rel = rng.choice(["grandmother", "uncle", "cousin", "neighbour", "sister"])
            f = dict(needle=f"The secret ingredient in {n}'s {dish} is {v}.",
                     q=rng.choice([f"What hidden component makes the {dish} of {n} taste so good?",
                                   f"What does the {rel} called {n} add to the {dish}?"]), answer=v)
        elif s == 3:
            v = str(rng.randint(11, 999))
            bird = rng.choice(["crows", "swans", "ducks", "pigeons", "sparrows", "geese"])
            who = rng.choice(["the gardener", "the old shepherd", "the ferryman", "the schoolmaster"])
            f = dict(needle=f"That morning {who} counted exactly {v} {bird} on the {rng.choice(['roof', 'pond', 'field', 'bridge'])}.",
                     q=rng.choice([f"How many birds did {who} see?", f"What number of {bird} were there?"]), answer=v)
        elif s == 4:
            v = f"{rng.randint(5, 23)}:{rng.choice(['05', '10', '15', '25', '30', '40', '45', '55'])}"
            c = rng.choice(CITIES)
            f = dict(needle=f"Every {rng.choice(DAYS)} {n} takes the {v} train to {c}.",
                     q=rng.choice([f"At what time does the rail service leave that {n} uses to reach {c}?",
                                   f"When does {n}'s weekly train depart?"]), answer=v)
        else:
            v = rng.choice(["a leather bag", "an iron box", "the cellar", "a tin trunk", "the top shelf",
                            "a secret drawer", "the vault", "a velvet case", "the study desk", "a wooden crate"])
            thing = rng.choice(["account book", "old diary", "family bible", "deed of the house", "list of names"])
            f = dict(needle=f"{n} keeps the {thing} in {v}.",
                     q=rng.choice([f"Where does {n} store the {thing}?", f"In which place is the {thing} of {n} found?"]),
                     answer=v)
        check_held_out(f["needle"] + " " + f["q"])
        return f

    def t_paraphrase_qa(self, rng, length: int):
        """One needle (80%; else with 1-2 other facts) and a paraphrased question in the `\nQuestion: <q>\nAnswer:`
        form -> ` <value>`."""
        f = self.paraphrase_fact(rng) if rng.random() < 0.7 else self.needle_fact(rng)
        if "alt" in f:
            f = dict(needle=f["needle"], q=rng.choice(f["alt"] + [f["q"]]), answer=f["answer"])
        needles = [f["needle"]]
        if rng.random() < 0.2:
            needles += [self.needle_fact(rng)["needle"] for _ in range(rng.randint(1, 2))]
        depths = [rng.random() for _ in needles]
        tl, ans = f"\nQuestion: {f['q']}\nAnswer:", " " + f["answer"]
        seed = rng.random()

        def build(n):
            text = self.insert(rng, self.prose_text(random.Random(seed), n), needles, depths)
            return text + tl, ans
        r = self.fit(rng, length, build, int(length * 0.85), 16)
        return None if r is None else (*r, 1.0)

    # --- RULER ----------------------------------------------------------------------------------------------------
    RULER_NIAH = ("Some special magic {t} are hidden within the following text. Make sure to memorize it. I will quiz "
                  "you about the {t} afterwards.\n{context}\nWhat are all the special magic {t} for {query} mentioned "
                  "in the provided text? The special magic {t} for {query} mentioned in the provided text are")
    RULER_NIAH_ALT = ("Some secret {t} are hidden in the text below. Remember them. I will ask you about the {t} later."
                      "\n{context}\nWhat are all the secret {t} for {query} in the text above? The secret {t} for "
                      "{query} in the text above are",
                      "Some hidden {t} appear in the following document. Keep them in mind.\n{context}\nWhat are the "
                      "hidden {t} for {query}? The hidden {t} for {query} are")

    def t_ruler_multikey(self, rng, length: int):
        """RULER's niah with 2-5 keys and one asked (multikey_1/2/3's shape): added at step 4250, when the model
        answered a needle's value but not the asked key's (multikey 0-20% at step 4148)."""
        return self.t_ruler_niah(rng, length, multikey=True)

    def t_ruler_niah(self, rng, length: int, multikey: bool = False):
        hay = rng.choice(["noise", "essay", "essay", "needle"])
        if multikey and hay == "noise":
            hay = rng.choice(["essay", "needle"])
        kk = rng.choice(["words", "words", "words", "numbers", "uuids"])
        vv = rng.choice(["numbers", "numbers", "numbers", "words", "uuids"])
        if hay == "needle" and rng.random() < 0.4:
            kk = vv = "uuids"
        nk, nv, nq = 1, 1, 1
        r = rng.random()
        if r < 0.25:
            nk = rng.randint(2, 5)
        elif r < 0.45:
            nv = rng.randint(2, 5)
        elif r < 0.65:
            nq = rng.randint(2, 4)
        if multikey:
            nk, nv, nq = rng.randint(2, 5), 1, 1
        nk = max(nk, nq)
        alt = rng.random() < 0.2
        template = rng.choice(self.RULER_NIAH_ALT) if alt else self.RULER_NIAH
        needle_t = ("One of the special magic {t} for {k} is: {v}." if not alt else
                    rng.choice(["One of the secret {t} for {k} is: {v}.", "A hidden {t1} for {k} is {v}."]))
        keys, values, needles = [], [], []
        while len(keys) < nk:
            k = self.value(rng, kk)
            if k in keys:
                continue
            keys.append(k)
            vs = [self.value(rng, vv) for _ in range(nv)]
            values.append(vs)
            for v in vs:
                needles.append(needle_t.replace("{t1}", vv[:-1]).replace("{t}", vv).replace("{k}", k).replace("{v}", v))
        check_held_out(" ".join(needles))
        rng.shuffle(needles)
        qi = rng.sample(range(nk), nq)
        query = join_and([keys[i] for i in qi])
        answers = [v for i in qi for v in values[i]]
        t = vv
        if nq * nv == 1:
            template = (template.replace("Some", "A").replace("are all", "is").replace("are", "is")
                        .replace("answers", "answer"))
            t = vv[:-1]
        head = template.replace("{t}", t).replace("{query}", query)
        ans = " " + (answers[0] if len(answers) == 1 else join_and(answers)) + "."
        seed = rng.random()
        fr = [rng.random() for _ in needles]
        if hay == "essay":
            depths = [rng.choice(range(0, 101)) / 100 for _ in needles]

            def build(n):
                text = self.insert(rng, self.prose_text(random.Random(seed), n, flat=True), needles, depths)
                return head.replace("{context}", text), ans
            res = self.fit(rng, length, build, int(length * 0.8), 16)
            cw = 1.0
        else:
            drng = random.Random(seed)
            distract: list[str] = []

            def build(n):
                if hay == "noise":
                    lines = [NOISE] * n
                else:
                    while len(distract) < n:
                        distract.append(needle_t.replace("{t1}", vv[:-1]).replace("{t}", vv)
                                        .replace("{k}", self.value(drng, kk)).replace("{v}", self.value(drng, vv)))
                    lines = distract[:n]
                idx = sorted((int(f * n) for f in fr), reverse=True)
                for j, at in enumerate(idx):
                    lines.insert(at, needles[j])
                return head.replace("{context}", "\n".join(lines)), ans
            res = self.fit(rng, length, build, length // (25 if hay == "noise" else 20), 0)
            cw = 0.1
        return None if res is None else (*res, cw)

    VT = ("Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
          "Question: Find all variables that are assigned the value {query} in the text above. Answer: According to "
          "the chain(s) of variable assignment in the text above, {num_v} variables are assigned the value {query}, "
          "they are: ")

    def vt_body(self, rng, chains_n: int, hops: int, letters: int):
        vars_: list[str] = []
        while len(vars_) < chains_n * (hops + 1):
            v = "".join(chr(65 + rng.randrange(26)) for _ in range(letters))
            if v not in vars_:
                vars_.append(v)
        chains, cvars = [], []
        for c in range(chains_n):
            v = vars_[c * (hops + 1):(c + 1) * (hops + 1)]
            cvars.append(v)
            ch = [f"VAR {v[0]} = {rng.randint(10000, 99998)}"] + [f"VAR {v[j + 1]} = VAR {v[j]} " for j in range(hops)]
            chains.append(ch)
        fr = [[rng.random() for _ in ch] for ch in chains]

        def context(n: int) -> str:
            lines = [NOISE + "\n"] * n
            for ci, ch in enumerate(chains):
                pos = sorted(int(f * len(lines)) for f in fr[ci])
                for j, p in enumerate(pos):
                    lines.insert(p + j, ch[j])
            return "\n".join(lines).replace(". \n", ".\n")
        value = chains[0][0].split("=")[-1].strip()
        return context, cvars[0], value

    def t_vt(self, rng, length: int):
        chains_n = rng.choice([1, 1, 1, 2])
        hops = rng.choice([1, 2, 3, 4, 4, 4, 5, 6])
        icl = ""
        if rng.random() < 0.85:
            ctx, ans, val = self.vt_body(rng, chains_n, min(10, hops), 3)
            ex = self.VT.replace("{query}", val).replace("{num_v}", str(min(10, hops) + 1)).replace("{context}", ctx(10))
            icl = ex.rstrip() + " " + " ".join(ans) + "\n\n"
        ctx, ans, val = self.vt_body(rng, chains_n, hops, 5)
        head = icl + self.VT.replace("{query}", val).replace("{num_v}", str(hops + 1))
        res = self.fit(rng, length, lambda n: (head.replace("{context}", ctx(max(1, n))), " ".join(ans)),
                       length // 25, 1)
        return None if res is None else (*res, 0.1)

    CWE = ("Below is a numbered list of words. In these words, some appear more often than others. Memorize the ones "
           "that appear most often.\n{context}\nQuestion: What are the 10 most common words in the above list? Answer: "
           "The top 10 words that appear most often in the list are:")

    @staticmethod
    def numbered(ws: list[str]) -> str:
        return " ".join(f"{i + 1}. {w}" for i, w in enumerate(ws))

    def t_cwe(self, rng, length: int):
        small = length < 4096
        pool_src = ENGLISH_WORDS if rng.random() < 0.5 else self.words

        def example(num, cr, ucr):
            allw = rng.sample(pool_src, num)
            common = allw[:10]
            lst = common * cr + allw[10:] * ucr
            rng.shuffle(lst)
            return self.numbered(lst), common
        icl = ""
        if rng.random() < 0.85:
            c, common = example(20, 3, 1) if small else example(40, 10, 3)
            icl = self.CWE.replace("{context}", c) + " " + self.numbered(common) + "\n"
        pool = rng.sample(pool_src, min(len(pool_src), 2000))
        common = pool[:10]
        cr, ucr = (6, 1) if small else (rng.choice([20, 30, 30]), rng.choice([2, 3, 3]))
        seed = rng.random()

        def build(n):
            n = max(11, n)
            lst = common * cr + pool[10:n] * ucr
            random.Random(seed).shuffle(lst)
            return icl + self.CWE.replace("{context}", self.numbered(lst)), " " + self.numbered(common)
        res = self.fit(rng, length, build, length // 20, 11)
        return None if res is None else (*res, 0.1)

    QA_HEADS = (
        ("Answer the question based on the given passages. Only give me the answer and do not output any other "
         "words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the given passages. "
         "Only give me the answer and do not output any other words.\n\nQuestion: {q}\nAnswer:"),
        ("Read the following text and answer briefly.\n\n{context}\n\nNow, answer the following question based on the "
         "above text, only give me the answer and do not output any other words.\n\nQuestion: {q}\nAnswer:"),
        "{context}\n\nQuestion: {q}\nAnswer:",
        "Passages:\n{context}\n\nUsing the passages above, answer in a few words.\nQuestion: {q}\nAnswer:",
    )

    def t_qa(self, rng, length: int):
        head = rng.choice(self.QA_HEADS)
        k = rng.randint(2, 8)
        facts = []
        keys = set()
        while len(facts) < rng.randint(1, 3):
            f = self.needle_fact(rng)
            if f["key"] not in keys:
                keys.add(f["key"])
                facts.append(f)
        asked = facts[0]
        q = rng.choice([asked["q"]] + asked["alt"])
        where = [rng.randrange(k) for _ in facts]
        seed = rng.random()

        def build(n):
            r2 = random.Random(seed)
            parts = []
            for i in range(k):
                t = self.prose_text(r2, max(16, n // k))
                mine = [f["needle"] for f, w in zip(facts, where) if w == i]
                if mine:
                    t = self.insert(r2, t, mine)
                parts.append(f"Passage {i + 1}:\n{t}" if "passages" in head.lower() else t)
            return head.replace("{context}", "\n\n".join(parts)).replace("{q}", q), " " + asked["answer"]
        res = self.fit(rng, length, build, int(length * 0.8), 32)
        return None if res is None else (*res, 1.0)

    def t_copy_doc(self, rng, length: int):
        n = rng.randint(24, max(32, min(400, length // 3)))
        t = self.prose_text(rng, n)
        lead = rng.choice(["Repeat the passage above word for word.", "Copy the text above exactly.",
                           "Now write the same passage again."])
        seed = rng.random()

        def build(m):
            pre = self.prose_text(random.Random(seed), m) + "\n\n" if m > 8 else ""
            return pre + "Passage:\n" + t + "\n\n" + lead + "\n", t
        res = self.fit(rng, length, build, max(0, length - 2 * n - 64), 0)
        return None if res is None else (*res, 1.0)


FAMILIES = ("needles", "ruler_niah", "vt", "cwe", "qa", "copy_doc", "niah_like", "paraphrase_qa", "ruler_multikey")
