"""``hybrid``: TokenAdapt's heuristic, the default method (best in docs/benchmarks.md).

A local estimate from the decomposition (weights softmax(((softmax(cos) + length ratio) / 2) / T),
cosines in MiniLM space) and a global one from the top-k most similar old tokens in MiniLM space
(softmax(sim / T) over similarities above 0), mixed with weight w on the global part; T=0.3, k=3,
w=0.3, and w scaled by each token's English share when the language gate is on.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..align import decompose
from ..tokenizer import Tokenizer
from .context import Context, Made
from .options import MethodOptions
from .recipe import Recipe
from .spaces import aux_embed


def make(ctx: Context) -> Made:
    p = ctx.progress
    report = (lambda n: p("aux", n, ctx.old.vocab.size + ctx.newv.size)) if p else None
    aux_old = aux_embed(ctx.old.vocab.tokens, progress=report)
    aux_new = aux_embed(ctx.tokens)
    return Made(hybrid_recipe(ctx.tokens, ctx.old, aux_new, aux_old, ctx.normal, ctx.opts, ctx.english()))


def hybrid_recipe(tokens: Sequence[bytes], old: Tokenizer, aux_new, aux_old, normal, opts: MethodOptions,
                  english=None) -> Recipe:
    """TokenAdapt: local (decomposition) and global (top-k similar old tokens) estimates mixed;
    vectorised over all tokens (masked softmaxes over the pieces). ``english`` [n]: each token's
    English share; the global weight (MiniLM neighbours) is scaled by it."""
    import torch

    pieces, lengths = decompose(tokens, old, opts.max_pieces)
    local, has_local = _local(tokens, old, pieces, lengths, aux_new, aux_old, opts.temperature)
    glob, has_glob, top_indices = _global(aux_new, aux_old, normal, opts.top_k, opts.temperature)
    both = (has_local & has_glob)[:, None]
    gw = torch.full((len(tokens), 1), float(opts.global_weight))
    if english is not None:
        gw = gw * torch.as_tensor(english, dtype=torch.float32)[:, None]
    local = torch.where(both, (1 - gw) * local, local)
    glob = torch.where(both, gw * glob, glob)
    ids = np.concatenate([pieces, normal[top_indices].numpy()], axis=1)
    weights = torch.cat([local, glob], dim=1).numpy().astype(np.float32)
    how = ["hybrid" if (a or b) else "fallback-mean" for a, b in zip(has_local.tolist(), has_glob.tolist())]
    return Recipe(ids, weights, how)


def _local(tokens: Sequence[bytes], old: Tokenizer, pieces, lengths, aux_new, aux_old, T: float):
    """(weights [n, P] over each token's pieces, has pieces [n]): a masked softmax of the mean of
    the pieces' MiniLM similarity weights and their length ratios, at temperature T."""
    import torch

    n, P = pieces.shape
    pt, lt = torch.as_tensor(pieces), torch.as_tensor(lengths)
    valid = torch.arange(P)[None, :] < lt[:, None]  # [n, P]
    neg = torch.tensor(float("-inf"))
    sims = torch.cat([torch.einsum("npd,nd->np", aux_old[pt[a:a + 8192]], aux_new[a:a + 8192])
                      for a in range(0, n, 8192)]) if n else torch.zeros(0, P)
    w1 = torch.softmax(torch.where(valid, sims, neg), dim=1)
    old_len = torch.as_tensor([len(b) for b in old.vocab.tokens], dtype=torch.float32)
    tok_len = torch.as_tensor([max(len(t), 1) for t in tokens], dtype=torch.float32)
    ratio = old_len[pt] / tok_len[:, None]
    local = torch.softmax(torch.where(valid, ((w1 + ratio) / 2) / T, neg), dim=1)
    has_local = lt > 0
    return torch.where(has_local[:, None], local, torch.zeros(())), has_local


def _global(aux_new, aux_old, normal, top_k: int, T: float):
    """(weights [n, top_k], has neighbours [n], neighbours [n, top_k] as indices into ``normal``):
    each new token's ``top_k`` most similar ordinary old tokens in MiniLM space, a softmax of
    their similarities above 0 at temperature T."""
    import torch

    vals, idx = [], []
    for a in range(0, aux_new.shape[0], 4096):  # [chunk, V_old] similarities at a time
        t = (aux_new[a:a + 4096] @ aux_old[normal].T).topk(top_k, dim=1)
        vals.append(t.values)
        idx.append(t.indices)
    top_values = torch.cat(vals) if vals else torch.zeros(0, top_k)
    top_indices = torch.cat(idx) if idx else torch.zeros(0, top_k, dtype=torch.long)
    keep = top_values > 0.0
    glob = torch.softmax(torch.where(keep, top_values / T, torch.tensor(float("-inf"))), dim=1)
    has_glob = keep.any(1)
    return torch.where(has_glob[:, None], glob, torch.zeros(())), has_glob, top_indices
