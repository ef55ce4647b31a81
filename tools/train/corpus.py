"""Gutenberg corpus access: header/footer stripping, text normalisation and the seeded book split.

Split rule (documented in docs/default-model.md and stored in src/eval/tasks/data/gutenberg-split.json):
  1. Take every file listed in MANIFEST.tsv whose text has a `*** START OF` and a `*** END OF` marker
     (three old-format books without markers are excluded).
  2. Sort the paths, shuffle them with random.Random(seed).
  3. The first VALIDATION_BOOKS go to validation, the next HAYSTACK_BOOKS to haystack, the rest to train.
"""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GUTENBERG = REPO_ROOT.parent / "shared" / "data" / "corpora" / "gutenberg"
SPLIT_JSON = REPO_ROOT / "src" / "eval" / "tasks" / "data" / "gutenberg-split.json"
VALIDATION_BOOKS = 20
HAYSTACK_BOOKS = 40

_START = re.compile(r"^\*\*\* ?START OF", re.M)
_END = re.compile(r"^\*\*\* ?END OF", re.M)


def gutenberg_dir() -> Path:
    env = os.environ.get("KVMERGER_SHARED_DATA")
    if env:
        return Path(env) / "corpora" / "gutenberg"
    return DEFAULT_GUTENBERG


def manifest_files(root: Path) -> list[str]:
    lines = (root / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()
    return [ln.split("\t")[0] for ln in lines[1:] if ln.strip()]


def read_raw(root: Path, rel: str) -> str:
    return (root / rel).read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def strip_gutenberg(text: str) -> str | None:
    """Body between the LAST `*** START OF` marker and the first `*** END OF` after it, or None without markers.

    The START marker may wrap onto following lines; the body begins after the line that closes it with `***`.
    """
    starts = list(_START.finditer(text))
    if not starts:
        return None
    s = starts[-1].start()
    close = text.find("***", s + 3)
    if close < 0:
        return None
    body_start = text.find("\n", close + 3)
    if body_start < 0:
        return None
    end = _END.search(text, body_start)
    if not end:
        return None
    return text[body_start + 1:end.start()].strip("\n") + "\n"


def reflow(body: str) -> str:
    """Joins hard-wrapped lines inside paragraphs with a space; paragraphs stay separated by one blank line.

    Paragraphs are runs of non-empty lines; runs of spaces inside a line are kept (poetry indents are lost only at
    line starts).
    """
    paras = re.split(r"\n[ \t]*\n+", body)
    out = []
    for p in paras:
        lines = [ln.strip() for ln in p.split("\n")]
        joined = " ".join(ln for ln in lines if ln)
        if joined:
            out.append(joined)
    return "\n\n".join(out) + "\n"


def make_split(root: Path, seed: int) -> dict:
    files = []
    for rel in sorted(manifest_files(root)):
        if strip_gutenberg(read_raw(root, rel)) is not None:
            files.append(rel)
    rng = random.Random(seed)
    rng.shuffle(files)
    val = sorted(files[:VALIDATION_BOOKS])
    hay = sorted(files[VALIDATION_BOOKS:VALIDATION_BOOKS + HAYSTACK_BOOKS])
    train = sorted(files[VALIDATION_BOOKS + HAYSTACK_BOOKS:])
    return {
        "seed": seed,
        "rule": (
            "files of MANIFEST.tsv that have '*** START OF' and '*** END OF' markers, sorted, shuffled with Python "
            f"random.Random(seed).shuffle; first {VALIDATION_BOOKS} -> validation, next {HAYSTACK_BOOKS} -> "
            "haystack, rest -> train (tools/train/corpus.py)"
        ),
        "text": (
            "body = text between the last '*** START OF' marker line (closed by '***') and the next '*** END OF' "
            "line, CRLF -> LF. Training used 80% of books reflowed (lines of a paragraph joined by one space, "
            "paragraphs separated by a blank line) and 20% as raw hard-wrapped text."
        ),
        "train": train,
        "validation": val,
        "haystack": hay,
    }


def load_or_make_split(root: Path, seed: int, write: bool = True) -> dict:
    split = make_split(root, seed)
    if SPLIT_JSON.exists():
        old = json.loads(SPLIT_JSON.read_text(encoding="utf-8"))
        if old.get("seed") == seed and (old["train"], old["validation"], old["haystack"]) != (
            split["train"], split["validation"], split["haystack"]
        ):
            raise SystemExit(f"{SPLIT_JSON}: differs from the split recomputed with seed {seed}; corpus changed?")
    if write:
        SPLIT_JSON.parent.mkdir(parents=True, exist_ok=True)
        SPLIT_JSON.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    return split


def book_text(root: Path, rel: str, seed: int) -> str:
    """Training text of one book: reflowed for 80% of books, raw hard-wrapped for 20% (chosen by a seeded hash)."""
    body = strip_gutenberg(read_raw(root, rel))
    assert body is not None, rel
    raw = random.Random(f"{seed}:{rel}").random() < 0.2
    return body if raw else reflow(body)
