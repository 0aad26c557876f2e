"""The healing loop: batches of pieces, the teacher's token log-probabilities (computed once per
piece and cached), the student's forward and backward, checkpoints with exact resume, held-out
bits per byte on the way, and the stop rule (steps or training minutes)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..checkpoint import read_state, restore_optimizer, save_state
from ..errors import TokkitError
from .data import Encoded, chunk_ids, piece_order
from .losses import alm_loss, chunk_sums, lm_loss, token_logprobs
from .options import HealOptions

KIND = "heal"
#: progress(step, steps or None, info): info has loss, seconds and (after an evaluation) bpb
ProgressFn = Callable[[int, "int | None", dict], None]


@dataclass
class Run:
    """Everything a step needs."""

    opts: HealOptions
    student: object  # Trainable (params.py)
    teacher: object  # the original model, frozen
    s_enc: Encoded
    t_enc: Encoded
    s_prefix: int
    t_prefix: int
    device: object
    new_rows: int = 0  # rows the transplant made
    teacher_lp: dict = field(default_factory=dict)  # piece -> float32 tensor (cpu)
    log: list = field(default_factory=list)
    step: int = 0
    seconds: float = 0.0  # training time so far (evaluations and checkpoints not counted)
    teacher_seconds: float = 0.0  # of which the teacher's forwards
    tokens: int = 0  # student tokens trained on


def _pad(rows: list[np.ndarray], fill: int, device):
    import torch

    n = max(len(r) for r in rows)
    out = np.full((len(rows), n), fill, np.int64)
    mask = np.zeros((len(rows), n), np.float32)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return torch.as_tensor(out, device=device), torch.as_tensor(mask, device=device)


def _teacher(run: Run, pieces: np.ndarray):
    """The teacher's token log-probabilities of these pieces, [B, m] padded (computed once)."""
    import torch

    todo = [int(i) for i in pieces if int(i) not in run.teacher_lp]
    if todo:
        t0 = time.perf_counter()
        ids, mask = _pad([run.t_enc.piece(i)[0] for i in todo], 0, run.device)
        with torch.no_grad():
            lp = token_logprobs(run.teacher, ids, mask, run.t_prefix).float().cpu()
        for k, i in enumerate(todo):
            run.teacher_lp[i] = lp[k, : int(mask[k].sum())].clone()
        run.teacher_seconds += time.perf_counter() - t0
    rows = [run.teacher_lp[int(i)] for i in pieces]
    out = torch.zeros((len(rows), max(len(r) for r in rows)))
    for k, r in enumerate(rows):
        out[k, : len(r)] = r
    return out.to(run.device)


def _chunks(run: Run, pieces: np.ndarray):
    import torch

    ca, cb, nc = [], [], []
    for i in pieces:
        a, b, n = chunk_ids(run.t_enc.piece(int(i))[1], run.s_enc.piece(int(i))[1])
        ca.append(a), cb.append(b), nc.append(n)
    c = max(nc)
    t_chunk, _ = _pad(ca, -1, run.device)
    s_chunk, _ = _pad(cb, -1, run.device)
    cmask = torch.as_tensor(np.arange(c)[None, :] < np.asarray(nc)[:, None], dtype=torch.float32, device=run.device)
    return t_chunk, s_chunk, cmask, c


def step_loss(run: Run, pieces: np.ndarray) -> tuple[object, dict]:
    """The weighted loss of one batch (with gradients) and its parts as floats."""
    s_ids, s_mask = _pad([run.s_enc.piece(int(i))[0] for i in pieces], 0, run.device)
    run.tokens += int(s_mask.sum())
    s_lp = token_logprobs(run.student.model, s_ids, s_mask, run.s_prefix)
    parts = {}
    w = run.opts.weights
    if "lm" in w:
        parts["lm"] = lm_loss(s_lp, s_mask)
    if "alm" in w:
        t_lp = _teacher(run, pieces)
        t_chunk, s_chunk, cmask, c = _chunks(run, pieces)
        parts["alm"] = alm_loss(chunk_sums(s_lp, s_chunk, c), chunk_sums(t_lp, t_chunk, c), cmask,
                                run.opts.alm_temperature)
    total = sum(w[k] * v for k, v in parts.items())
    return total, {k: float(v.detach()) for k, v in parts.items()}


def train_step(run: Run, optim) -> dict:
    import torch

    t0 = time.perf_counter()
    pieces = piece_order(len(run.s_enc.starts) - 1, run.opts.seed, run.step, run.opts.batch)
    optim.zero_grad(set_to_none=True)
    loss, parts = step_loss(run, pieces)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise TokkitError(f"healing diverged at step {run.step + 1} (loss {value}); lower --lr")
    loss.backward()
    params = [p for g in optim.param_groups for p in g["params"]]
    torch.nn.utils.clip_grad_norm_(params, run.opts.grad_clip)
    optim.step()
    run.step += 1
    run.seconds += time.perf_counter() - t0
    return {"step": run.step, "seconds": round(run.seconds, 2), "loss": value, **parts}


def done(run: Run) -> bool:
    o = run.opts
    return (o.steps is not None and run.step >= o.steps) or (o.minutes is not None and run.seconds >= o.minutes * 60)


# -- checkpoints ---------------------------------------------------------------------------------

def save_checkpoint(path: Path, run: Run, optim, identity: dict) -> None:
    meta = {"step": run.step, "seconds": run.seconds, "teacher_seconds": run.teacher_seconds, "tokens": run.tokens,
            "log": run.log, "options": run.opts.fingerprint(), "identity": identity}
    save_state(path, KIND, {f"param.{k}": v for k, v in run.student.named.items()}, optim, meta)


def resume(path: Path, run: Run, optim, identity: dict) -> None:
    """Continue from a checkpoint of the same run (same student, teacher, text and options)."""
    import torch

    tensors, meta = read_state(path, KIND)
    if meta.get("identity") != identity or meta.get("options") != run.opts.fingerprint():
        raise TokkitError(f"{path}: a checkpoint of another healing run (other student, teacher, corpus or "
                          "options); remove it or choose another --out")
    with torch.no_grad():
        for k, p in run.student.named.items():
            src = tensors.get(f"param.{k}")
            if src is None or src.shape != p.shape:
                raise TokkitError(f"{path}: checkpoint tensor param.{k} is missing or has another shape")
            p.copy_(src.to(p.device))
    restore_optimizer(path, optim, tensors, meta)
    run.step, run.seconds, run.log = int(meta["step"]), float(meta["seconds"]), list(meta["log"])
    run.teacher_seconds, run.tokens = float(meta.get("teacher_seconds", 0)), int(meta.get("tokens", 0))
