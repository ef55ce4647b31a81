"""A small Llama: RMSNorm, RoPE on adjacent pairs (x[2i], x[2i+1]), grouped-query attention, SwiGLU, tied
embeddings, no biases. Weights map one-to-one onto GGUF `llama` tensors (no permutation)."""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


@dataclass
class Config:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 6
    n_heads: int = 8
    n_kv_heads: int = 2
    ffn_dim: int = 704
    context: int = 4096
    rope_base: float = 50000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(head_dim: int, length: int, base: float):
    inv = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)  # [hd/2]
    ang = torch.arange(length, dtype=torch.float64)[:, None] * inv[None, :]  # [T, hd/2]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    # x: [B, H, T, hd]; pairs (x[2i], x[2i+1]) rotate by angle pos * base^(-2i/hd)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


def causal_attention(q, k, v, chunk: int):
    """softmax(q k^T / sqrt(d) + causal mask) v, in query chunks: only keys up to the chunk's end are scored, and
    only the diagonal block needs the mask. q [B, H, T, hd], k/v [B, H, T, hd] -> [B, H, T, hd]."""
    B, H, T, hd = q.shape
    q = q * (1.0 / math.sqrt(hd))
    kt = k.transpose(-1, -2)
    outs = []
    for s in range(0, T, chunk):
        e = min(T, s + chunk)
        sc = torch.matmul(q[:, :, s:e], kt[..., :e])  # [B, H, e-s, e]
        tri = torch.full((e - s, e - s), float("-inf"), device=sc.device, dtype=sc.dtype).triu_(1)
        sc[..., s:].add_(tri)  # in place: matmul's backward does not need its output
        outs.append(torch.matmul(torch.softmax(sc, dim=-1), v[:, :, :e]))
    return torch.cat(outs, dim=2)


class Block(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        hd = c.head_dim
        self.attn_norm = RMSNorm(c.dim, c.norm_eps)
        self.wq = nn.Linear(c.dim, c.n_heads * hd, bias=False)
        self.wk = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wv = nn.Linear(c.dim, c.n_kv_heads * hd, bias=False)
        self.wo = nn.Linear(c.n_heads * hd, c.dim, bias=False)
        self.ffn_norm = RMSNorm(c.dim, c.norm_eps)
        self.w_gate = nn.Linear(c.dim, c.ffn_dim, bias=False)
        self.w_up = nn.Linear(c.dim, c.ffn_dim, bias=False)
        self.w_down = nn.Linear(c.ffn_dim, c.dim, bias=False)

    def forward(self, x, cos, sin, recompute: bool):
        c = self.c
        B, T, _ = x.shape
        hd = c.head_dim
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, c.n_heads, hd).transpose(1, 2)
        k = self.wk(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        v = self.wv(h).view(B, T, c.n_kv_heads, hd).transpose(1, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        rep = c.n_heads // c.n_kv_heads  # query head h reads KV head h // rep (llama.cpp's grouping)
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        chunk = 512
        if recompute and torch.is_grad_enabled():
            a = checkpoint(causal_attention, q, k, v, chunk, use_reentrant=False)
        else:
            a = causal_attention(q, k, v, chunk)
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, c.n_heads * hd))
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.tok_embeddings = nn.Embedding(c.vocab_size, c.dim)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.n_layers))
        self.norm = RMSNorm(c.dim, c.norm_eps)
        cos, sin = rope_tables(c.head_dim, c.context, c.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        for b in self.layers:  # scaled init of residual projections (GPT-2 style)
            nn.init.normal_(b.wo.weight, std=0.02 / math.sqrt(2 * c.n_layers))
            nn.init.normal_(b.w_down.weight, std=0.02 / math.sqrt(2 * c.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, idx, recompute_from: int = 4096):
        """idx [B, T] -> logits [B, T, vocab]. Attention is recomputed in backward when T > recompute_from."""
        B, T = idx.shape
        x = self.tok_embeddings(idx)
        cos, sin = self.cos[:T], self.sin[:T]
        for b in self.layers:
            x = b(x, cos, sin, recompute=T > recompute_from)
        x = self.norm(x)
        return F.linear(x, self.tok_embeddings.weight)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
