"""The run-folder and checkpoint options every tool after training shares (export, pass key check, copy probe, logits
fixture), and loading a checkpoint into an evaluation-mode model with its tokenizer."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from bpe import Tokenizer
from model import Config, Llama


def add_checkpoint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-name", default="default")
    p.add_argument("--run-dir", default=None, help="run folder (default ~/.cache/kvmerger-train/<run-name>)")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default <run folder>/ckpt.pt)")


def run_dir(a: argparse.Namespace) -> Path:
    return Path(a.run_dir).expanduser() if a.run_dir else Path.home() / ".cache" / "kvmerger-train" / a.run_name


def checkpoint_path(a: argparse.Namespace) -> Path:
    return Path(a.checkpoint) if a.checkpoint else run_dir(a) / "ckpt.pt"


def load_checkpoint(a: argparse.Namespace, tool: str) -> dict:
    path = checkpoint_path(a)
    if not path.exists():
        raise SystemExit(f"{tool}: no checkpoint at {path}; train first or pass --checkpoint/--run-dir")
    return torch.load(path, map_location="cpu")


def load_model(a: argparse.Namespace, tool: str) -> tuple[Llama, dict, Tokenizer]:
    """(model in eval mode, the checkpoint dict, the run's tokenizer)."""
    ck = load_checkpoint(a, tool)
    model = Llama(Config(**ck["config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    return model, ck, Tokenizer.load(run_dir(a) / "tokenizer.json")
