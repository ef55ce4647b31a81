#!/usr/bin/env python3
"""Shows and checks the v2 training task families (skills.py): for each family, `--count` samples at each length
(all must be exactly length + 1 ids, weights aligned, no held-out evaluation wording in needles and questions),
then one decoded sample per family, its answer tokens marked. Reads a run folder's tokenizer and train.u16.

    /usr/bin/python3 tools/train/show_tasks.py --run-name v2 [--families needles,vt] [--lengths 1024] [--count 20]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bpe import Tokenizer  # noqa: E402
from skills import FAMILIES  # noqa: E402
from tasks import TaskMaker  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-name", default="v2")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--lengths", default="1024,4096")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--chars", type=int, default=600, help="characters shown of each end of the shown sample")
    a = p.parse_args()
    d = Path(a.run_dir).expanduser() if a.run_dir else Path.home() / ".cache" / "kvmerger-train" / a.run_name
    tok = Tokenizer.load(d / "tokenizer.json")
    maker = TaskMaker(tok, np.fromfile(d / "train.u16", dtype=np.uint16), 5.0)
    for fam in a.families.split(","):
        for length in map(int, a.lengths.split(",")):
            t0, fallback = time.time(), 0
            for i in range(a.count):
                rng = random.Random(f"show:{fam}:{length}:{i}")
                r = maker.skills().make(rng, length, fam)
                if r is None:
                    fallback += 1
                    continue
                ids, w = r
                assert len(ids) == length + 1 and len(w) == length, (fam, length, len(ids), len(w))
            ms = (time.time() - t0) * 1000 / a.count
            print(f"{fam} @ {length}: {a.count} samples ok, {fallback} fell back to prose, {ms:.0f} ms each")
        rng = random.Random(f"show:{fam}")
        ids, w = maker.skills().make(rng, int(a.lengths.split(",")[0]), fam)
        ans = [i + 1 for i, x in enumerate(w) if x == maker.answer_weight]
        text = tok.decode(ids[:ans[0]]) if ans else tok.decode(ids)
        print(f"--- {fam}: prompt (start and end) ---\n{text[:a.chars]}\n[...]\n{text[-a.chars:]}")
        print(f"--- answer: {tok.decode([ids[j] for j in ans])!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
