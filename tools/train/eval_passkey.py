#!/usr/bin/env python3
"""Pass key accuracy of a checkpoint in PyTorch (a quick readiness check before export; the model card's numbers
come from our engine). Prose from the HAYSTACK books of the split, keys x depths per length, greedy decoding checked
by one teacher-forced pass (the answer is right iff every answer token is the argmax).

    /usr/bin/python3 tools/train/eval_passkey.py --run-name default --lengths 1000,2000,4000 --keys 20 --depths 5
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # noqa: E402
from checkpoint import add_checkpoint_args, load_model  # noqa: E402
from tasks import TaskMaker, passkey_prompt  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_args(p)
    p.add_argument("--lengths", default="1000,2000,4000", help="prompt lengths in tokens")
    p.add_argument("--keys", type=int, default=20)
    p.add_argument("--depths", type=int, default=5)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model, ck, tok = load_model(a, "eval_passkey.py")
    root = corpus.gutenberg_dir()
    split = corpus.load_or_make_split(root, ck["args"]["seed"], write=False)
    ids: list[int] = []
    for rel in split["haystack"]:
        ids += tok.encode(corpus.reflow(corpus.strip_gutenberg(corpus.read_raw(root, rel)))) + [tok.eot_id]
    hay = TaskMaker(tok, np.array(ids, dtype=np.uint16), 1.0)
    rng = random.Random(a.seed)
    print(f"checkpoint step {ck['step']}, {ck['tokens_seen']} tokens")
    with torch.no_grad():
        for length in map(int, a.lengths.split(",")):
            per_depth = []
            for d in range(a.depths):
                depth = d / max(1, a.depths - 1)
                ok = 0
                for _ in range(a.keys):
                    key = str(rng.randrange(10000, 100000))
                    probe, _ = passkey_prompt(tok, [], hay.word_start, key, 0.0)  # BOS + needle + question
                    prompt, ans = passkey_prompt(tok, hay._prose(rng, length - len(probe)), hay.word_start, key, depth)
                    assert len(prompt) == length, len(prompt)  # the prompt is exactly `length` tokens
                    x = torch.tensor(prompt + ans).view(1, -1)
                    pred = model(x[:, :-1])[0, len(prompt) - 1:].argmax(-1).tolist()
                    ok += pred == ans
                per_depth.append(ok)
            total = sum(per_depth)
            print(f"length {length}: {total}/{a.keys * a.depths} = {100 * total / (a.keys * a.depths):.1f}%  "
                  f"by depth {per_depth}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
