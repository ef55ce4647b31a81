#!/usr/bin/env python3
"""Writes a checkpoint's weights in a simple intermediate form for tools/export-gguf.ts:

    <out>.json  {"format": "kvmerger-f32-v1", "config": {...}, "tokenizer": {...}, "training": {...},
                 "tensors": [{"name", "shape" (row-major, [out, in] for matrices), "offset" (bytes), "count"}]}
    <out>.bin   the tensors' float32 values, little-endian, one after another

Tensor names are GGUF's canonical `llama` names; RoPE uses adjacent pairs in training, so nothing is permuted.

    /usr/bin/python3 tools/train/export.py --run-name default --out /tmp/kvm-default
    npx tsx tools/export-gguf.ts --input /tmp/kvm-default --output models/kvmerger-default.gguf
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint import add_checkpoint_args, checkpoint_path, load_checkpoint, run_dir  # noqa: E402

NAMES = {
    "attn_norm.weight": "attn_norm.weight",
    "wq.weight": "attn_q.weight",
    "wk.weight": "attn_k.weight",
    "wv.weight": "attn_v.weight",
    "wo.weight": "attn_output.weight",
    "ffn_norm.weight": "ffn_norm.weight",
    "w_gate.weight": "ffn_gate.weight",
    "w_up.weight": "ffn_up.weight",
    "w_down.weight": "ffn_down.weight",
}


def gguf_name(torch_name: str) -> str:
    if torch_name == "tok_embeddings.weight":
        return "token_embd.weight"
    if torch_name == "norm.weight":
        return "output_norm.weight"
    parts = torch_name.split(".", 2)  # layers.{i}.rest
    if parts[0] == "layers" and parts[2] in NAMES:
        return f"blk.{parts[1]}.{NAMES[parts[2]]}"
    raise SystemExit(f"export.py: unexpected tensor {torch_name}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_checkpoint_args(p)
    p.add_argument("--out", required=True, help="output path prefix: writes <out>.json and <out>.bin")
    a = p.parse_args(argv)
    rd = run_dir(a)
    ck = load_checkpoint(a, "export.py")
    tok = json.loads((rd / "tokenizer.json").read_text(encoding="utf-8"))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors, offset = [], 0
    with open(str(out) + ".bin", "wb") as f:
        for name, t in ck["model"].items():
            arr = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
            f.write(arr.tobytes())
            tensors.append({"name": gguf_name(name), "shape": list(arr.shape), "offset": offset, "count": int(arr.size)})
            offset += arr.nbytes
    header = {
        "format": "kvmerger-f32-v1",
        "config": ck["config"],
        "tokenizer": tok,
        "training": {"step": ck["step"], "tokens_seen": ck["tokens_seen"], "train_seconds": ck["train_seconds"],
                     "seed": ck["args"]["seed"], "checkpoint": str(checkpoint_path(a))},
        "tensors": tensors,
    }
    Path(str(out) + ".json").write_text(json.dumps(header, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}.json and {out}.bin: {len(tensors)} tensors, {offset} bytes, step {ck['step']}, "
          f"{ck['tokens_seen']} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
