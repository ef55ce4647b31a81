#!/usr/bin/env python3
"""Copy (induction) accuracy of a checkpoint: the share of tokens of a repeated block of random tokens that the model
predicts by looking back (greedy, teacher-forced), at several sequence lengths. Pass key retrieval needs this
mechanism first; chance is 1/4095. It is how the default run's phases were chosen (docs/default-model.md).

    /usr/bin/python3 tools/train/probe_copy.py --run-name default --lengths 64,256,1024,4096
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint import add_checkpoint_args, load_model, run_dir  # noqa: E402
from tasks import TaskMaker  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_args(p)
    p.add_argument("--lengths", default="64,256,1024")
    p.add_argument("--samples", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, ck, tok = load_model(a, "probe_copy.py")
    rd = run_dir(a)
    maker = TaskMaker(tok, np.fromfile(rd / "validation.u16", dtype=np.uint16), 1.0)
    res = [f"step {ck['step']}"]
    with torch.no_grad():
        for length in (int(x) for x in a.lengths.split(",")):
            hits = total = 0
            for i in range(a.samples):
                ids, w = maker.random_repeat(random.Random(f"probe:{length}:{i}"), length)
                x = torch.tensor(ids).view(1, -1)
                pred = model(x[:, :-1])[0].argmax(-1)
                mask = torch.tensor(w) > 0
                hits += int((pred[mask] == x[0, 1:][mask]).sum())
                total += int(mask.sum())
            res.append(f"copy@{length} {hits / total:.3f}")
    print(" ".join(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
