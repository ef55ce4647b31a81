#!/usr/bin/env python3
"""Reference logits of the training framework for the exported model, so `npm test` can check the engine.

    /usr/bin/python3 tools/train/make_logits_fixture.py --run-name default \
        --model-file models/kvmerger-default.gguf --out test/fixtures/default-model-logits.json

For each prompt: its token ids (BOS first, from the training tokenizer) and the top-20 ids and logits of the
next-token distribution at the last position; for the first prompt also all logits of the last position.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint import add_checkpoint_args, load_model  # noqa: E402

PROMPTS = [
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "The old man looked at the sea and said",
    "Mary had a garden full of roses. The pass key is 48213. Remember it. 48213 is the pass key. She walked home"
    " slowly, thinking of her mother.\nWhat is the pass key? The pass key is",
    "\"Where are you going?\" asked the girl.\n\n\"To London,\" he replied, 1234 times.",
    # about 1,500 tokens: exercises chunked prefill and RoPE at larger positions
    " ".join(["The rain fell on the hills, and the river rose along the valley road."] * 60)
    + " The pass key is 70931. Remember it. 70931 is the pass key. "
    + " ".join(["Night came slowly over the quiet town, and the lamps were lit one by one."] * 40)
    + "\nWhat is the pass key? The pass key is",
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_args(p)
    p.add_argument("--model-file", default="models/kvmerger-default.gguf", help="the GGUF these logits belong to")
    p.add_argument("--out", default="test/fixtures/default-model-logits.json")
    a = p.parse_args(argv)
    torch.set_num_threads(2)
    model, ck, tok = load_model(a, "make_logits_fixture.py")
    cases = []
    with torch.no_grad():
        for i, text in enumerate(PROMPTS):
            ids = [tok.eot_id] + tok.encode(text)
            logits = model(torch.tensor(ids).view(1, -1))[0, -1].double()
            top = torch.topk(logits, 20)
            case = {"text": text, "ids": ids, "top_ids": top.indices.tolist(),
                    "top_logits": [round(v, 6) for v in top.values.tolist()]}
            if i == 0:
                case["last_logits"] = [round(v, 6) for v in logits.tolist()]
            cases.append(case)
    fixture = {
        "model": a.model_file,
        "source": "tools/train/make_logits_fixture.py (PyTorch, float32)",
        "step": ck["step"],
        "tokens_seen": ck["tokens_seen"],
        "bos": "each ids list starts with BOS <|endoftext|>; the text is encoded without special-token parsing",
        "cases": cases,
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(cases)} prompts, step {ck['step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
