"""Training checkpoints as one safetensors file: tensors (weights, the optimizer's state, torch's
RNG state as uint8) and, as JSON in the file's metadata, everything else (step, log, options,
the optimizer's parameter groups and scalar state). Nothing is ever unpickled.

Shared by the hypernetwork trainer and healing; ``kind`` names the writer, so a checkpoint of
one is never read as the other's.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import FormatError

_META = "tokkit.checkpoint"
FORMAT = 1


def save_state(path: str | Path, kind: str, tensors: dict, optim, meta: dict) -> None:
    """Write ``tensors`` (name -> tensor), ``optim``'s state and ``meta`` (JSON-able) atomically."""
    import torch
    from safetensors.torch import save_file

    from .io import atomic_path

    out = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    osd = optim.state_dict()
    scalars: dict[str, dict] = {}
    for idx, st in osd["state"].items():
        for name, val in st.items():
            if torch.is_tensor(val):
                out[f"optim.{idx}.{name}"] = val.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = val
    out["rng.torch"] = torch.get_rng_state()
    full = {"format": FORMAT, "kind": kind, **meta, "optim_groups": osd["param_groups"], "optim_scalars": scalars}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(out, str(tmp), metadata={_META: json.dumps(full)})


def read_state(path: str | Path, kind: str) -> tuple[dict, dict]:
    """(tensors, JSON part) of a checkpoint :func:`save_state` wrote for ``kind``; a FormatError
    for anything else."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    from .lm import one_line

    try:
        with safe_open(str(path), "pt") as f:
            raw = (f.metadata() or {}).get(_META)
        meta = json.loads(raw) if raw is not None else None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("kind") != kind:
            raise FormatError(path, f"not a tokkit {kind} checkpoint (no matching checkpoint metadata)")
        return load_file(str(path)), meta
    except (OSError, SafetensorError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise FormatError(path, f"not a readable checkpoint ({one_line(e)})") from None


def restore_optimizer(path: str | Path, optim, tensors: dict, meta: dict) -> None:
    """Load the optimizer's state and torch's RNG state from a checkpoint read by
    :func:`read_state` (a FormatError when they do not fit ``optim``)."""
    import torch

    from .lm import one_line

    state: dict[int, dict] = {}
    for key, val in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = val
    try:
        for idx, vals in meta["optim_scalars"].items():
            state.setdefault(int(idx), {}).update(vals)
        optim.load_state_dict({"state": state, "param_groups": meta["optim_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, ValueError, TypeError, RuntimeError) as e:  # shapes, missing entries
        raise FormatError(path, f"an inconsistent checkpoint ({type(e).__name__}: {one_line(e)})") from None
