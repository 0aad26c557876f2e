"""``omp``: orthogonal matching pursuit in a donor space where both vocabularies have vectors.

The new token's donor vector is approximated by ``k`` anchors' donor vectors, and the same
coefficients combine those anchors' rows of the base model (``k``: 64 with a donor model, 8 in the
aux and corpus spaces, where 64 fit noise). The donor spaces are in :mod:`.spaces`: ``aux``
(MiniLM plus the base model's decomposition block; every old token an anchor; gated towards FVT
by each token's English share), ``corpus`` and a donor model (whose LM head makes the head
recipe, as mergekit does). Tokens the donor space knows nothing about fall back to FVT.
"""

from __future__ import annotations

import numpy as np

from ..errors import TokkitError
from .context import Context, Made
from .fvt import fvt_recipe
from .gate import gated
from .recipe import Recipe, merge
from .spaces import aux_space, corpus_space, decomposition_block, donor_rows


def make(ctx: Context) -> Made:
    if len(ctx.al.shared) == 0:
        raise TokkitError("OMP needs tokens shared by both vocabularies; there are none")
    donor = ctx.opts.donor
    k = ctx.opts.k or (8 if donor in ("aux", "corpus") else 64)
    made = _aux(ctx, k) if donor == "aux" else _corpus(ctx, k) if donor == "corpus" else _donor_model(ctx, k)
    if any(h == "fallback-fvt" for h in made.recipe.how):
        fb = [r for r, h in enumerate(made.recipe.how) if h == "fallback-fvt"]
        fv = fvt_recipe([ctx.tokens[r] for r in fb], ctx.old, ctx.opts.max_pieces)
        made.recipe = merge(made.recipe, fb, fv)
    return made


def _aux(ctx: Context, k: int) -> Made:
    """OMP in MiniLM's space (+ the decomposition block), gated towards FVT by language."""
    import torch

    opts = ctx.opts
    # the anchors' vectors come from the old vocabulary's (cached once per base model), so only
    # the missing tokens are embedded for each new tokenizer
    p = ctx.progress
    report = (lambda n: p("aux", n, ctx.old.vocab.size)) if p else None
    space_old = aux_space(ctx.old.vocab.tokens, progress=report)
    space_new = aux_space(ctx.tokens)
    fvt = fvt_recipe(ctx.tokens, ctx.old, opts.max_pieces)
    if opts.decomposition_weight:
        dec_old, dec_new = decomposition_block(ctx.e_in, ctx.normal, fvt, opts)
        space_old = torch.cat([space_old, dec_old], 1)
        space_new = torch.cat([space_new, dec_new], 1)
    # "old": every old token has a vector in this space and a row in the base model, so the
    # dictionary need not stop at the shared tokens
    anchor_old = ctx.normal if opts.anchors == "old" else torch.as_tensor(ctx.al.source[ctx.al.shared])
    recipe = _omp_recipe(space_new, space_old[anchor_old], anchor_old, k, candidates=opts.candidates)
    lam = ctx.english()
    if lam is not None:
        # MiniLM reads English: a token's OMP row counts by its English share, FVT's row for the
        # rest (tokkit BPE, German: 2.7407 -> 2.5773 bits/byte, FVT 2.5926; docs/benchmarks.md)
        recipe = gated(recipe, fvt, lam)
    return Made(recipe)


def _corpus(ctx: Context, k: int) -> Made:
    """OMP in the corpus space; tokens the corpus never uses fall back to FVT."""
    import torch

    if ctx.new_tok is None:
        raise TokkitError("--donor corpus needs the new tokenizer and a corpus (--donor-corpus)")
    shared, miss = torch.as_tensor(ctx.al.shared), torch.as_tensor(ctx.miss)
    anchor_old = torch.as_tensor(ctx.al.source[ctx.al.shared])
    space = corpus_space(ctx.new_tok, ctx.opts.donor_texts, seed=ctx.opts.seed)
    seen = space.abs().sum(1) > 0
    ok = seen[shared]
    return Made(_omp_recipe(space[miss], space[shared][ok], anchor_old[ok], k, valid=seen[miss],
                            candidates=ctx.opts.candidates))


def _donor_model(ctx: Context, k: int) -> Made:
    """OMP in a donor model's input rows, and in its head rows for the head (both untied)."""
    import torch

    shared, miss = torch.as_tensor(ctx.al.shared), torch.as_tensor(ctx.miss)
    anchor_old = torch.as_tensor(ctx.al.source[ctx.al.shared])
    din, dout = donor_rows(ctx.opts.donor, ctx.newv)
    made = Made(_omp_recipe(din[miss], din[shared], anchor_old, k, candidates=ctx.opts.candidates))
    if dout is not None and not ctx.tied:  # the head separately, in the donor's head space
        made.head_recipe = _omp_recipe(dout[miss], dout[shared], anchor_old, k, candidates=ctx.opts.candidates)
    return made


def _omp_recipe(targets, anchors_space, anchor_old_ids, k: int, valid=None, candidates: int | None = None) -> Recipe:
    """OMP coefficients as a recipe over the anchors' old ids; rows not ``valid`` (the donor space
    has no vector for them) are left empty as ``fallback-fvt``."""
    n = targets.shape[0]
    atoms, coefs = omp(targets, anchors_space, k, candidates=(64 * k if candidates is None else candidates) or None)
    ids = anchor_old_ids[atoms].numpy()
    w = coefs.numpy().astype(np.float32)
    how = ["omp"] * n
    if valid is not None:
        for r in np.flatnonzero(~np.asarray(valid)):
            w[r] = 0
            how[r] = "fallback-fvt"
    return Recipe(ids, w, how)


# -- the solver ----------------------------------------------------------------------------------
def omp(targets, dictionary, k: int, candidates: int | None = 512, chunk: int = 256, backend: str = "auto"):
    """Greedy orthogonal matching pursuit for many targets at once.

    targets [N, D], dictionary [S, D] -> (atoms [N, k] int64 indices into the dictionary,
    coefficients [N, k]). At each of the k steps the atom most correlated with the residual
    joins, then all coefficients are refitted by least squares (what scikit-learn's
    ``orthogonal_mp`` does; checked against it in the tests). The refit solves the normal
    equations of the chosen atoms in float64 from a Gram block that grows one column per step,
    and the residual's correlations follow from it, so a step costs one [M, D] product per
    target. ``candidates``: restrict each target's dictionary to its most correlated atoms first
    (one matrix product), which keeps the cost linear in the dictionary on the CPU. Written with
    torch rather than called from scikit-learn because scikit-learn solves one target at a time
    and cannot run on a GPU. ``backend``: "torch" (this batched version, for a GPU), "numba"
    (:mod:`._omp_kernel`, 10x faster on a CPU) or "auto" (numba for CPU tensors).
    """
    import torch

    n = targets.shape[0]
    k = min(k, dictionary.shape[0])
    if n and (backend == "numba" or (backend == "auto" and targets.device.type == "cpu")):
        return _omp_numba(targets, dictionary, k, candidates)
    atoms = torch.zeros(n, k, dtype=torch.long)
    coefs = torch.zeros(n, k, dtype=targets.dtype)
    dic = dictionary.to(torch.float64)
    for a in range(0, n, chunk):
        x = targets[a:a + chunk].to(torch.float64)
        atoms[a:a + len(x)], c = _omp_torch(x, dic, k, candidates)
        coefs[a:a + len(x)] = c.to(targets.dtype)
    return atoms, coefs


def _omp_numba(targets, dictionary, k: int, candidates: int | None):
    """:func:`omp` by the numba kernel (targets in parallel on the CPU)."""
    import torch
    from threadpoolctl import threadpool_limits

    from ._omp_kernel import omp_batch

    n = targets.shape[0]
    dic = dictionary.to(torch.float64)
    if candidates is not None and candidates < dic.shape[0]:
        # the screening only ranks atoms (the fit below is float64): float32 halves its time,
        # which is most of OMP's (13k targets x 49k atoms x 961 dimensions for GPT-2)
        d32 = dictionary.to(torch.float32)
        cand = torch.cat([(targets[a:a + 4096].to(torch.float32) @ d32.T).abs()
                          .topk(max(candidates, k), dim=1).indices for a in range(0, n, 4096)])
    else:
        cand = torch.arange(dic.shape[0]).expand(n, -1)
    # the kernel's threads call BLAS (np.dot); a multi-threaded BLAS inside them oversubscribes
    # the cores (and OpenBLAS warns that it may hang), so BLAS runs on one thread here
    with threadpool_limits(1, user_api="blas"):
        at, co = omp_batch(targets.to(torch.float64).numpy(), dic.numpy(), cand.contiguous().numpy(), k)
    at = torch.from_numpy(at)
    co = torch.from_numpy(co).to(targets.dtype)
    co[at < 0] = 0
    return at.clamp(min=0), co


def _omp_torch(x, dic, k: int, candidates: int | None):
    """:func:`omp` for one chunk of float64 targets ``x`` [b, D] with torch (batched; a GPU):
    (atoms [b, k], float64 coefficients [b, k])."""
    import torch

    b = x.shape[0]
    ar = torch.arange(b)
    if candidates is not None and candidates < dic.shape[0]:
        cand = (x @ dic.T).abs().topk(max(candidates, k), dim=1).indices  # [b, M]
        C = dic[cand]  # [b, M, D]
        cx = torch.einsum("bmd,bd->bm", C, x)
    else:
        cand = torch.arange(dic.shape[0]).expand(b, -1)
        C = None
        cx = x @ dic.T
    M = cand.shape[1]
    taken = torch.zeros(b, M, dtype=torch.bool)
    gram_cols = torch.zeros(b, M, k, dtype=torch.float64)  # <candidate m, chosen atom t>
    chosen = torch.zeros(b, k, dtype=torch.long)
    corr = cx.clone()
    c = torch.zeros(b, 0, dtype=torch.float64)
    for t in range(k):
        j = corr.abs().masked_fill(taken, -1.0).argmax(dim=1)
        taken[ar, j] = True
        chosen[:, t] = j
        atom = C[ar, j] if C is not None else dic[j]  # [b, D]
        gram_cols[:, :, t] = torch.einsum("bmd,bd->bm", C, atom) if C is not None else atom @ dic.T
        sel = chosen[:, : t + 1]
        G = torch.gather(gram_cols[:, :, : t + 1], 1, sel[:, :, None].expand(-1, -1, t + 1))  # [b, t+1, t+1]
        rhs = torch.gather(cx, 1, sel)
        G = G + torch.eye(t + 1, dtype=G.dtype) * 1e-10
        c = torch.linalg.solve(G, rhs[..., None])[..., 0]
        corr = cx - torch.einsum("bmt,bt->bm", gram_cols[:, :, : t + 1], c)
    return (cand[ar[:, None], chosen] if C is not None else chosen), c
