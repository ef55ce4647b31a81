"""Reads the F32 tensors of a GGUF file written by tools/export-gguf.ts, so a training run can restart from the
committed model when its checkpoint is lost (train.py --init-from). Only what that needs: GGUF v3, F32 tensors."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

# GGUF metadata value types → struct format (scalars); 8 = string, 9 = array.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str):
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def string(self) -> str:
        n = self.take("<Q")
        s = self.data[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, t: int):
        if t in _SCALAR:
            return self.take(_SCALAR[t])
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("<I"), self.take("<Q")
            return [self.value(et) for _ in range(n)]
        raise SystemExit(f"gguf_weights: unknown metadata type {t}")


def read_gguf_f32(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Returns (metadata, {name: array in row-major shape, i.e. GGUF ne reversed})."""
    data = Path(path).read_bytes()
    r = _Reader(data)
    if data[:4] != b"GGUF":
        raise SystemExit(f"gguf_weights: {path} is not a GGUF file")
    r.pos = 4
    version = r.take("<I")
    if version < 2:
        raise SystemExit(f"gguf_weights: {path}: GGUF v{version} is not supported")
    n_tensors, n_kv = r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        meta[key] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        ttype, offset = r.take("<I"), r.take("<Q")
        infos.append((name, dims, ttype, offset))
    align = int(meta.get("general.alignment", 32))
    start = (r.pos + align - 1) // align * align
    tensors = {}
    for name, dims, ttype, offset in infos:
        if ttype != 0:
            raise SystemExit(f"gguf_weights: tensor {name} is not F32 (type {ttype}); export the model as F32")
        count = int(np.prod(dims))
        arr = np.frombuffer(data, dtype="<f4", count=count, offset=start + offset)
        tensors[name] = arr.reshape(list(reversed(dims))).copy()
    return meta, tensors


def load_gguf_weights(model, path: str | Path) -> None:
    """Copies an exported GGUF's tensors into a training model (names mapped back as export.py maps them forward);
    every parameter must be present with its shape (load_state_dict is strict)."""
    import torch

    from export import gguf_name

    _, tensors = read_gguf_f32(path)
    state = {}
    for name in model.state_dict():
        g = gguf_name(name)
        if g not in tensors:
            raise SystemExit(f"gguf_weights: {path} has no tensor {g} (for {name})")
        state[name] = torch.from_numpy(tensors[g])
    model.load_state_dict(state, strict=True)
