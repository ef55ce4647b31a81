#!/usr/bin/env python3
"""Trains kvmerger's built-in default model (see docs/default-model.md). One command, resumable:

    nohup nice -n 10 /usr/bin/python3 tools/train/train.py --run-name default \
        > ~/.cache/kvmerger-train/default/stdout.log 2>&1 &

Everything (split check, tokenizer, tokenized books, checkpoints, train.log) lives in the run folder
(default ~/.cache/kvmerger-train/<run-name>/, or --out). Running the same command again resumes from ckpt.pt.
The data of step s is drawn from random.Random(f"{seed}:{s}"), so a resumed run sees exactly the data an
uninterrupted run would have seen.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def reexec_with_jemalloc() -> None:
    # glibc returns big tensors' pages to the OS, and re-faulting them made every op ~20x slower on this VM.
    if os.path.exists(JEMALLOC) and JEMALLOC not in os.environ.get("LD_PRELOAD", ""):
        env = dict(os.environ)
        env["LD_PRELOAD"] = (JEMALLOC + " " + env.get("LD_PRELOAD", "")).strip()
        env.setdefault("MALLOC_CONF", "dirty_decay_ms:-1,muzzy_decay_ms:-1,retain:true")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-name", default="default")
    p.add_argument("--out", default=None, help="run folder (default ~/.cache/kvmerger-train/<run-name>)")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (checkpoints stay loadable on CPU)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("KVMERGER_TRAIN_THREADS", "2")),
                   help="torch threads (default $KVMERGER_TRAIN_THREADS or 2; 1 leaves a core to others)")
    p.add_argument("--total-tokens", type=float, default=30e6, help="planned tokens; may be raised on resume")
    p.add_argument("--tokens-per-step", type=int, default=8192)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--min-lr-frac", type=float, default=0.05)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--decay-frac", type=float, default=0.2, help="last fraction of tokens with linear LR decay")
    p.add_argument("--answer-weight", type=float, default=5.0)
    p.add_argument("--phases", default=None,
                   help="JSON list of phases that change the data mixture from a step on (default: "
                        "tools/train/phases/<run-name>.json when it exists); see phase_at()")
    p.add_argument("--ckpt-minutes", type=float, default=10.0)
    p.add_argument("--eval-minutes", type=float, default=30.0)
    p.add_argument("--vocab", type=int, default=4096)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=704)
    p.add_argument("--context", type=int, default=4096)
    p.add_argument("--rope-base", type=float, default=50000.0)
    p.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (smoke tests)")
    p.add_argument("--smoke", action="store_true", help="tiny model, short sequences, frequent logs")
    p.add_argument("--init-from", default=None,
                   help="start a NEW run from an exported F32 GGUF's weights (e.g. models/kvmerger-default.gguf) when "
                        "the checkpoint is lost; the optimizer starts fresh")
    p.add_argument("--init-step", type=int, default=0, help="with --init-from: the step the GGUF was exported at")
    p.add_argument("--init-tokens", type=int, default=0, help="with --init-from: tokens seen at that step")
    p.add_argument("--prepare-only", action="store_true",
                   help="write the run folder's tokenizer and tokenized books, then exit (no training)")
    return p.parse_args(argv)


PHASE_KEYS = {"from_step", "copy_share", "random_spans", "span_density", "span_weight", "induction_share", "lengths",
              "tokens_per_step", "lr_to", "lr_to_step", "stop", "mix", "lr", "warmup"}


def phases_path(a) -> Path:
    return Path(a.phases) if a.phases else Path(__file__).resolve().parent / "phases" / f"{a.run_name}.json"


def phases_file_mtime(a) -> float:
    p = phases_path(a)
    return p.stat().st_mtime if p.exists() else 0.0


def load_phases(a) -> list[dict]:
    """Phases change the data mixture from a step on, so a run that was adjusted while it trained (the default
    run was: see tools/train/phases/default.json) replays exactly from one command. Each phase holds `from_step`
    and any of `copy_share` (share of repeated-span sequences), `random_spans` (half the spans random tokens),
    `span_density`/`span_weight` (dense, weighted span pairs: TaskMaker.dense_repeat), `induction_share` (share of
    repeated random-token blocks: TaskMaker.random_repeat),
    `lengths` ({length: weight}, replacing the curriculum) and `tokens_per_step`; `lr_to` with `lr_to_step` (the learning
    rate falls linearly from the schedule's value at `from_step` to `lr_to` at `lr_to_step`, then stays) and `stop`
    (the run ends, with a checkpoint and an evaluation, when it reaches `from_step`).
    v2 keys: `mix` ({family: weight}: each sequence is one family of tasks.MIX_NAMES, drawn by weight; replaces the
    v1 mixture and the share keys above), `lr` (the learning rate in this phase, instead of the schedule's: the
    start of `lr_to`'s decay when both are given) and `warmup` (with `lr`: a linear rise from 0 over this many steps
    from `from_step`, e.g. after a restart from a GGUF with a fresh optimizer)."""
    path = phases_path(a)
    if not path.exists():
        if a.phases:
            raise SystemExit(f"train.py: --phases {path} does not exist; give an existing JSON file or leave it out")
        return []
    phases = json.loads(path.read_text())
    for ph in phases:
        bad = set(ph) - PHASE_KEYS
        if bad or "from_step" not in ph:
            raise SystemExit(f"train.py: {path}: phase {ph} has unknown keys {sorted(bad)} or no from_step; "
                             f"allowed keys are {sorted(PHASE_KEYS)}")
        if "mix" in ph:
            from tasks import MIX_NAMES
            mix = ph["mix"]
            if not isinstance(mix, dict) or not mix or set(mix) - set(MIX_NAMES) or \
                    not all(isinstance(v, (int, float)) and v >= 0 for v in mix.values()) or sum(mix.values()) <= 0:
                raise SystemExit(f"train.py: {path}: phase from step {ph['from_step']}: mix {mix} must map names of "
                                 f"{list(MIX_NAMES)} to non-negative weights")
    return sorted(phases, key=lambda ph: ph["from_step"])


def phase_at(phases: list[dict], step: int) -> dict:
    cur: dict = {}
    for ph in phases:
        if ph["from_step"] <= step:
            cur = ph
    return cur


def length_weights(progress: float, context: int) -> dict[int, float]:
    """Curriculum over sequence lengths: short first; 4096 appears after 10% and rises to ~35% of steps."""
    if progress < 0.1:
        w = {256: 0.5, 512: 0.5}
    elif progress < 0.4:
        w = {256: 0.15, 512: 0.25, 1024: 0.25, 2048: 0.2, 4096: 0.15}
    else:
        w = {512: 0.2, 1024: 0.2, 2048: 0.25, 4096: 0.35}
    return {min(k, context): v for k, v in w.items()}


def phase_lr(a, phases: list[dict], step: int, tokens: float) -> float:
    """The schedule's learning rate, unless the phase in force decays it linearly to `lr_to` by `lr_to_step`."""
    ph = phase_at(phases, step)
    if "lr" in ph:
        start = float(ph["lr"])
        k = step - ph["from_step"]
        if ph.get("warmup") and k < ph["warmup"]:
            return start * (k + 1) / ph["warmup"]
        if "lr_to" not in ph:
            return start
    elif "lr_to" not in ph:
        return lr_at(a, step, tokens)
    else:
        start = lr_at(a, ph["from_step"], tokens)
    f = min(1.0, (step - ph["from_step"]) / max(1, ph["lr_to_step"] - ph["from_step"]))
    return start + f * (ph["lr_to"] - start)


def lr_at(a, step: int, tokens: float) -> float:
    if step < a.warmup_steps:
        return a.lr * (step + 1) / a.warmup_steps
    decay_start = a.total_tokens * (1 - a.decay_frac)
    if tokens <= decay_start:
        return a.lr
    f = min(1.0, (tokens - decay_start) / (a.total_tokens * a.decay_frac))
    return a.lr * (1 - f * (1 - a.min_lr_frac))


def main(argv=None) -> int:
    a = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        # torch.set_num_threads does not bound Debian torch's OpenBLAS pool: fix every pool before torch loads
        os.environ[var] = str(a.threads)
    reexec_with_jemalloc()
    phases = load_phases(a)
    import numpy as np
    import torch
    import torch.nn.functional as F

    import corpus
    from bpe import Tokenizer, train_bpe
    from gguf_weights import load_gguf_weights
    from model import Config, Llama
    from tasks import TaskMaker, passkey_prompt

    if a.smoke:
        a.dim, a.layers, a.heads, a.kv_heads, a.ffn, a.context = 64, 2, 4, 2, 176, 512
        a.tokens_per_step, a.ckpt_minutes, a.eval_minutes = 2048, 1.0, 1.0
    torch.set_num_threads(a.threads)
    out = Path(a.out).expanduser() if a.out else Path.home() / ".cache" / "kvmerger-train" / a.run_name
    out.mkdir(parents=True, exist_ok=True)
    import fcntl
    lock = open(out / "lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until this process exits
    except OSError:
        raise SystemExit(f"train.py: another run is using {out} (it holds {out}/lock); let it finish or stop it first")
    (out / "pid").write_text(f"{os.getpid()}\n")
    logf = open(out / "train.log", "a", encoding="utf-8")

    def log(msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    # --- data: split, tokenizer, tokenized books (all deterministic from the seed) ---
    root = corpus.gutenberg_dir()
    split = corpus.load_or_make_split(root, a.seed, write=not corpus.SPLIT_JSON.exists())
    tok_path = out / "tokenizer.json"
    if not tok_path.exists() and a.init_from:
        # The GGUF carries its tokenizer: take it from there, so a run restarted from a GGUF keeps exactly its ids
        # (and skips the BPE training).
        from gguf_weights import read_gguf_f32
        meta, _ = read_gguf_f32(a.init_from)
        vocab, merges = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.merges"]
        Tokenizer(vocab, [tuple(m.split(" ")) for m in merges]).save(tok_path)
        log(f"tokenizer: {len(vocab)} tokens, {len(merges)} merges from {a.init_from}")
    if not tok_path.exists():
        t0 = time.time()
        rng = random.Random(f"{a.seed}:tokenizer")
        texts = []
        for rel in split["train"]:
            t = corpus.book_text(root, rel, a.seed)
            o = rng.randrange(max(1, len(t) - 30000))
            texts.append(t[o:o + 30000])
        tok = train_bpe(texts, a.vocab)
        tok.save(tok_path)
        log(f"tokenizer: {len(tok.vocab)} tokens from {sum(map(len, texts))} chars in {time.time() - t0:.0f}s")
    tok = Tokenizer.load(tok_path)
    data = {}
    for part in ("train", "validation"):
        f = out / f"{part}.u16"
        if not f.exists():
            t0 = time.time()
            ids: list[int] = []
            for rel in split[part]:
                ids.extend(tok.encode(corpus.book_text(root, rel, a.seed)))
                ids.append(tok.eot_id)
            np.array(ids, dtype=np.uint16).tofile(str(f) + ".tmp")
            os.replace(str(f) + ".tmp", f)
            log(f"tokenized {part}: {len(ids)} tokens in {time.time() - t0:.0f}s")
        data[part] = np.fromfile(f, dtype=np.uint16)
    if a.prepare_only:
        log(f"prepared {out}: tokenizer and tokenized books; --prepare-only, so no training")
        return 0
    maker = TaskMaker(tok, data["train"], a.answer_weight)
    val_maker = TaskMaker(tok, data["validation"], a.answer_weight)

    # --- model, optimizer, resume ---
    ckpt_path = out / "ckpt.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu") if ckpt_path.exists() else None
    if ckpt:
        cfg = Config(**ckpt["config"])
    else:
        cfg = Config(vocab_size=len(tok.vocab), dim=a.dim, n_layers=a.layers, n_heads=a.heads,
                     n_kv_heads=a.kv_heads, ffn_dim=a.ffn, context=a.context, rope_base=a.rope_base)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    model = Llama(cfg).to(dev)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    step, tokens_seen, train_seconds = 0, 0, 0.0
    if ckpt:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step, tokens_seen, train_seconds = ckpt["step"], ckpt["tokens_seen"], ckpt["train_seconds"]
        torch.set_rng_state(ckpt["torch_rng"])
        log(f"resumed from {ckpt_path} at step {step}, {tokens_seen} tokens; phases {json.dumps(phases)}")
    else:
        log(f"new run {out}: config {json.dumps(cfg.to_dict())}, params {model.num_params()}, args {vars(a)}")
        if a.init_from:
            load_gguf_weights(model, a.init_from)
            model.to(dev)
            step, tokens_seen = a.init_step, a.init_tokens
            log(f"initialised from {a.init_from}: step {step}, {tokens_seen} tokens (optimizer state fresh)")
    del ckpt

    def save() -> None:
        tmp = out / "ckpt.pt.tmp"
        torch.save({"config": cfg.to_dict(), "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "step": step, "tokens_seen": tokens_seen, "train_seconds": train_seconds,
                    "torch_rng": torch.get_rng_state(), "args": vars(a)}, tmp)
        os.replace(tmp, ckpt_path)

    @torch.no_grad()
    def evaluate() -> str:
        model.eval()
        rng = random.Random(f"{a.seed}:eval")
        nll, n = 0.0, 0
        for _ in range(16):  # validation perplexity on 16 x 512 tokens of held-out books
            ids, _w = val_maker.prose(rng, 512)
            x = torch.tensor(ids).view(1, -1).to(dev)
            nll += F.cross_entropy(model(x[:, :-1])[0], x[0, 1:], reduction="sum").item()
            n += 512
        res = [f"val_ppl {math.exp(nll / n):.2f}"]
        for length, count in ((min(1024, cfg.context), 10), (cfg.context, 4)):
            ok = 0
            for i in range(count):
                key = str(rng.randrange(10000, 100000))
                prose = val_maker._prose(rng, length - 64)  # needle + question + answer < 64
                prompt, ans = passkey_prompt(tok, prose, val_maker.word_start, key, (i + 0.5) / count)
                x = torch.tensor(prompt + ans).view(1, -1).to(dev)
                pred = model(x[:, :-1])[0, len(prompt) - 1:].argmax(-1).tolist()  # teacher-forced = greedy
                ok += pred == ans
            res.append(f"passkey@{length} {ok}/{count}")
        model.train()
        return " ".join(res)

    # --- loop ---
    model.train()
    last_ckpt = last_eval = time.time()
    win_tok, win_t, win_loss, win_n = 0, 0.0, 0.0, 0
    if step == 0 or (a.init_from and step == a.init_step and not ckpt_path.exists()):
        log(f"eval step {step} " + evaluate())
    phases_mtime = phases_file_mtime(a)
    while tokens_seen < a.total_tokens and (a.max_steps == 0 or step < a.max_steps):
        t0 = time.time()
        if phases_file_mtime(a) != phases_mtime:  # phases for later steps may be added while the run goes on
            phases_mtime = phases_file_mtime(a)
            try:
                phases = load_phases(a)
                log(f"phases reloaded at step {step}: {json.dumps(phase_at(phases, step))}")
            except (SystemExit, ValueError) as e:  # a half-written or wrong edit must not end a long run
                log(f"phases file not reloaded at step {step}, keeping the previous phases: {e}")
        rng = random.Random(f"{a.seed}:{step}")
        ph = phase_at(phases, step)
        if ph.get("stop"):
            log(f"phase at step {step} says stop")
            break
        if "lengths" in ph:
            lw = {min(int(k), cfg.context): v for k, v in ph["lengths"].items()}
        else:
            lw = length_weights(tokens_seen / a.total_tokens, cfg.context)
        length = rng.choices(list(lw), weights=list(lw.values()))[0]
        bsz = max(1, ph.get("tokens_per_step", a.tokens_per_step) // length)
        copy_share, rs = ph.get("copy_share", 0.0), ph.get("random_spans", False)
        sd, sw = ph.get("span_density", 0.0), ph.get("span_weight", 1.0)
        ind = ph.get("induction_share", 0.0)
        mix = ph.get("mix")
        seqs, ws = zip(*(maker.sample(rng, length, copy_share, rs, sd, sw, ind, mix) for _ in range(bsz)))
        x = torch.tensor(seqs, dtype=torch.long).to(dev)
        w = torch.tensor(ws, dtype=torch.float32).to(dev)
        lr = phase_lr(a, phases, step, tokens_seen)
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(x[:, :-1])
        ce = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), x[:, 1:].reshape(-1), reduction="none")
        loss = (ce * w.view(-1)).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
        opt.step()
        step += 1
        tokens_seen += bsz * length
        dt = time.time() - t0
        train_seconds += dt
        win_tok += bsz * length
        win_t += dt
        win_loss += ce.mean().item()
        win_n += 1
        if step % (5 if a.smoke else 20) == 0:
            log(f"step {step} tokens {tokens_seen} len {length} loss {win_loss / win_n:.3f} "
                f"lr {lr:.2e} gnorm {gnorm:.2f} tok/s {win_tok / win_t:.0f} hours {train_seconds / 3600:.2f}")
            win_tok, win_t, win_loss, win_n = 0, 0.0, 0.0, 0
        if time.time() - last_eval > a.eval_minutes * 60:
            log(f"eval step {step} " + evaluate())
            last_eval = time.time()
        if time.time() - last_ckpt > a.ckpt_minutes * 60:
            save()
            last_ckpt = time.time()
            log(f"checkpoint step {step}")
    save()
    log(f"eval final step {step} " + evaluate())
    log(f"done: step {step}, tokens {tokens_seen}, {train_seconds / 3600:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
