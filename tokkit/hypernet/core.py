"""Batched hypernetwork prediction and the training loss (the base model's rows and the
decompositions come from :mod:`tokkit.align`; scoring from :mod:`tokkit.lm`)."""

from __future__ import annotations


import numpy as np

from ..align import base_rows, decompose  # re-exported for the hypernetwork

__all__ = ["base_rows", "decompose", "lm_loss", "predict"]


def predict(net, rows, pieces: np.ndarray, lengths: np.ndarray, chunk: int = 8192):
    """Hypernetwork predictions [N, width] for decomposed tokens (gradients flow when enabled).

    Tokens are grouped by their number of pieces and each group runs on its own length, with no
    padding: most tokens have 2-3 pieces, so this is 2-3x cheaper than padding every token to
    ``max_pieces`` and gives the same result (padded keys are masked out anyway)."""
    import torch

    p = torch.as_tensor(pieces, device=rows.device)
    ln = torch.as_tensor(lengths, device=rows.device).clamp(min=1)
    if len(p) == 0:
        return rows[:0]
    parts, order = [], []
    for L in torch.unique(ln).tolist():
        idx = torch.nonzero(ln == L).flatten()
        for a in range(0, len(idx), chunk):
            sel = idx[a:a + chunk]
            x = rows[p[sel, :L]]
            parts.append(net(x, torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)))
            order.append(sel)
    inv = torch.empty(len(p), dtype=torch.long, device=p.device)
    inv[torch.cat(order)] = torch.arange(len(p), device=p.device)
    return torch.cat(parts)[inv]


def lm_loss(model, table, ids, tied: bool, d_model: int, reduction: str = "mean"):
    """Causal-LM loss (mean nats per predicted token; ``reduction="sum"``: their sum, which a
    rank of a data-parallel run divides by the global batch's tokens) of ``model`` run on token ids
    ``ids`` [B, T] of a vocabulary whose rows are ``table`` [V, width] (input rows, then output
    rows when untied); the model's own weights are not touched."""
    import torch.nn.functional as F

    from ..lm import hidden_states

    e_in = table[:, :d_model]
    e_out = e_in if tied else table[:, d_model:]
    h = hidden_states(model, e_in, ids)
    logits = h[:, :-1] @ e_out.T
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction=reduction)
