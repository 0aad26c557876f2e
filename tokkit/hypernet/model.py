"""The ZeTT hypernetwork: a new token's decomposition by the old tokenizer -> its embedding.

Input: the old (frozen) embeddings of the token's pieces (at most ``max_pieces``; the input and
output rows concatenated for an untied model). A linear map to the hypernetwork width, learned
position embeddings, a small pre-norm transformer encoder, the first position, and a linear map
back, zero-initialised and added to a base: the mean of the pieces' rows (default, ``residual=
"mean"``: at initialisation the prediction is exactly FVT) or the first piece's row
(``residual="first"``, ZeTT/tokenkit's choice). Why the mean by default: on SmolLM2 -> GPT-2 the
first-piece start is at 1.93 bits per byte and FVT at 1.36 (legal text); a CPU-scale run of a
few hundred steps spends most of its budget walking from the first to where FVT already is.

Saved as a directory: ``config.json`` (sizes, the base model's fingerprint) and
``model.safetensors``. :func:`load_hypernet` refuses a hypernetwork made for another base model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import FormatError, TokkitError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


@dataclass
class HyperNetConfig:
    d_model: int  # the base model's embedding width
    tied: bool  # one matrix for input and output (else both predicted, concatenated)
    base_fingerprint: str  # sha256 of the base model's embedding matrix (or matrices)
    base_name: str = ""
    hidden: int = 256
    layers: int = 2
    heads: int = 4
    max_pieces: int = 8
    #: what the prediction is a correction of: "mean" (of the pieces' rows: FVT) or "first" (the
    #: first piece's row, ZeTT/tokenkit's choice)
    residual: str = "mean"
    version: int = 1

    @property
    def width(self) -> int:
        return self.d_model if self.tied else 2 * self.d_model


def fingerprint(embeddings) -> str:
    """sha256 of the base model's embedding rows (the tensors a hypernetwork is trained against)."""
    import torch

    h = hashlib.sha256()
    for e in embeddings:
        h.update(e.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()


def build(cfg: HyperNetConfig):
    import torch
    from torch import nn

    class HyperNet(nn.Module):
        def __init__(self, cfg: HyperNetConfig):
            super().__init__()
            self.cfg = cfg
            self.inp = nn.Linear(cfg.width, cfg.hidden)
            self.pos = nn.Parameter(torch.zeros(cfg.max_pieces, cfg.hidden))
            layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, 4 * cfg.hidden, dropout=0.0,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.hidden)
            self.out = nn.Linear(cfg.hidden, cfg.width)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, piece_rows, mask):
            """piece_rows [N, P, width] (old rows of the pieces), mask [N, P] (True = a piece)
            -> [N, width]."""
            x = self.inp(piece_rows) + self.pos[: piece_rows.shape[1]]
            h = self.encoder(x, src_key_padding_mask=~mask)
            if self.cfg.residual == "first":
                base = piece_rows[:, 0]
            else:
                m = mask[..., None].to(piece_rows.dtype)
                base = (piece_rows * m).sum(1) / m.sum(1).clamp(min=1)
            return base + self.out(self.norm(h[:, 0]))

    return HyperNet(cfg)


def save_hypernet(net, out: str | os.PathLike, extra: dict | None = None) -> Path:
    from safetensors.torch import save_file

    from ..io import atomic_path, write_json_atomic

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / CONFIG, {**dataclasses.asdict(net.cfg), **({"training": extra} if extra else {})})
    with atomic_path(out / WEIGHTS) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp))
    return out


def load_hypernet(path: str | os.PathLike, base_fingerprint: str | None = None):
    """Load a saved hypernetwork; with ``base_fingerprint``, refuse one trained for another model."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / CONFIG).exists() or not (path / WEIGHTS).exists():
        raise TokkitError(f"{path}: not a tokkit hypernetwork directory (needs {CONFIG} and {WEIGHTS})")
    try:
        raw = json.loads((path / CONFIG).read_text())
        fields = {f.name for f in dataclasses.fields(HyperNetConfig)}
        cfg = HyperNetConfig(**{k: v for k, v in raw.items() if k in fields})
    except (json.JSONDecodeError, TypeError) as e:
        raise FormatError(path / CONFIG, f"not a hypernetwork config ({e})") from None
    if base_fingerprint is not None and cfg.base_fingerprint != base_fingerprint:
        raise TokkitError(f"{path}: this hypernetwork was trained for another base model "
                          f"({cfg.base_name or 'unnamed'}, embeddings {cfg.base_fingerprint[:12]}...), not this one "
                          f"({base_fingerprint[:12]}...)")
    _check_config(path, cfg)
    net = build(cfg)
    try:
        net.load_state_dict(load_file(str(path / WEIGHTS)))
    except Exception as e:  # safetensors errors, shape mismatches
        raise FormatError(path / WEIGHTS, f"cannot load the weights ({type(e).__name__}: {e})") from None
    return net


def _check_config(path: Path, cfg: HyperNetConfig) -> None:
    """Sizes that can be built, and no more parameters than the weights file holds (checked on
    the meta device, before anything is allocated)."""
    import math

    import torch
    from safetensors import SafetensorError, safe_open

    sizes = {k: getattr(cfg, k) for k in ("d_model", "hidden", "layers", "heads", "max_pieces")}
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes.values()) \
            or cfg.hidden % cfg.heads or cfg.residual not in ("mean", "first") or not isinstance(cfg.tied, bool):
        raise FormatError(path / CONFIG, f"not a hypernetwork config (sizes {sizes}, residual {cfg.residual!r})")
    with torch.device("meta"):
        need = sum(p.numel() for p in build(cfg).parameters())
    try:
        with safe_open(str(path / WEIGHTS), "pt") as f:
            have = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    except (OSError, SafetensorError) as e:
        raise FormatError(path / WEIGHTS, f"not a safetensors file ({' '.join(str(e).split())})") from None
    if need != have:
        raise FormatError(path, f"{CONFIG} describes {need:,} weights but {WEIGHTS} holds {have:,}")
