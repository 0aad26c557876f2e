"""A dynamic output vocabulary: the model's tokens plus many merged tokens (whole words from a
corpus), searched through an approximate nearest-neighbour index instead of a full softmax.

:class:`OutputIndex` holds the union's output rows in a faiss HNSW index over inner products
(the logit is an inner product, so the most likely tokens are its nearest neighbours); a query
returns ``k`` candidates whose logits are then computed exactly, so the top-1 is exact whenever
the true top-1 is among the candidates. :func:`generate` decodes greedily with a KV cache over
``inputs_embeds``; :func:`ann_bits` scores a text in union tokens with the softmax restricted to
the candidates plus the target (the approximation the index makes), next to the full softmax.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import TokkitError
from ..lm import cache_kwargs, prefix_id
from ..tokenizer import Tokenizer
from .embed import MergedRows
from .merge import expand, segments


def word_vocabulary(texts: Sequence[str], tok: Tokenizer, size: int, max_pieces: int = 8,
                    boundaries: str = "word") -> list[tuple[int, ...]]:
    """The ``size`` most frequent segments of more than one token in ``texts`` (whole words at
    ``boundaries="word"``), as tuples of the model's ids: a dynamic vocabulary made once."""
    counts: Counter = Counter()
    for ss in segments(texts, tok, boundaries):
        counts.update(s for s in ss if 1 < len(s) <= max_pieces)
    return [s for s, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]]


class OutputIndex:
    """Top-k tokens of a hidden state over output rows [N, d]: the first ``exact`` rows (the
    model's own vocabulary) scored exactly, as the model's head does, the rest (the dynamic
    vocabulary, which is what grows to millions) searched in a faiss HNSW index.

    The logit is an inner product, and HNSW graphs over inner products search poorly (no
    triangle inequality; measured on SmolLM2's head: 0.83 top-1 recall against 0.92 below), so
    the merged rows are indexed by the usual reduction of maximum inner product to nearest
    neighbours: each row x gets one more coordinate sqrt(R^2 - |x|^2) (R the largest norm), a
    query gets 0, and the L2 order of the augmented vectors is the inner-product order.
    Candidates are re-scored exactly, so the top-1 is exact whenever the index finds it."""

    def __init__(self, out_rows, exact: int = 0, m: int = 32, ef_search: int = 256, ef_construction: int = 80):
        import faiss

        x = np.ascontiguousarray(out_rows[exact:].detach().float().cpu().numpy())
        if not np.isfinite(x).all():
            raise TokkitError("output rows with non-finite values cannot be indexed")
        norms = (x * x).sum(1)
        extra = np.sqrt(np.maximum(norms.max(initial=0.0) - norms, 0))[:, None].astype(np.float32)
        self.rows, self.exact = out_rows, exact
        self.index = faiss.IndexHNSWFlat(x.shape[1] + 1, m)
        self.index.hnsw.efConstruction = ef_construction
        self.index.hnsw.efSearch = ef_search
        t0 = time.perf_counter()
        self.index.add(np.ascontiguousarray(np.hstack([x, extra])))
        self.build_seconds = time.perf_counter() - t0

    def search(self, h, k: int = 64):
        """(ids [B, exact + k] int64, logits [B, exact + k]) for hidden states h [B, d]: every
        exact row, then the index's k candidates; all logits exact (-inf for a missing one)."""
        import torch

        q = h.detach().float().cpu().numpy()
        q = np.ascontiguousarray(np.hstack([q, np.zeros((len(q), 1), np.float32)]))
        _, ids = self.index.search(q, min(k, self.index.ntotal))
        cand = torch.as_tensor(ids, dtype=torch.long)
        valid = cand >= 0
        cand = torch.where(valid, cand + self.exact, 0)
        logits = torch.einsum("bd,bkd->bk", h.float(), self.rows[cand].float()).masked_fill(~valid, float("-inf"))
        if self.exact:
            head = h.float() @ self.rows[: self.exact].float().T
            cand = torch.cat([torch.arange(self.exact).expand(len(h), -1), cand], 1)
            logits = torch.cat([head, logits], 1)
        return cand, logits


@dataclass
class Generated:
    text: str
    ids: list[int]  # union ids
    seconds: float

    @property
    def tokens_per_second(self) -> float:
        return len(self.ids) / self.seconds if self.seconds else float("nan")


def union_table(rows: MergedRows, vocab: Sequence[tuple[int, ...]]):
    """(input rows, output rows) of the model's vocabulary followed by ``vocab``'s tokens."""
    return rows.split(rows.table(list(vocab)))


def generate(model, tok: Tokenizer, rows: MergedRows, prompt: str, vocab: Sequence[tuple[int, ...]],
             max_new_tokens: int = 32, index: OutputIndex | None = None, k: int = 64, tables=None) -> Generated:
    """Greedy continuation of ``prompt`` (read in the model's own tokens) over the model's
    vocabulary plus ``vocab``: through ``index`` when given, else the full softmax."""
    import torch
    from transformers import DynamicCache

    e_in, e_out = tables if tables is not None else union_table(rows, vocab)
    base = rows.base.shape[0]
    ids = [prefix_id(tok)] + [int(x) for x in tok.encode(prompt, special="text")]
    scale = getattr(model.get_input_embeddings(), "embed_scale", None)
    cache, out, t0 = DynamicCache(), [], time.perf_counter()
    kw = cache_kwargs(model.model.forward, cache)
    step = torch.as_tensor(ids)
    eos = tok.vocab.eos_id
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            x = e_in[step][None]
            if scale is not None:
                x = x * scale.to(x.dtype)
            h = model.model(inputs_embeds=x, **kw).last_hidden_state[0, -1:]
            if index is not None:
                cand, logits = index.search(h, k)
                nxt = int(cand[0, int(logits[0].argmax())])
            else:
                nxt = int((h @ e_out.T)[0].argmax())
            out.append(nxt)
            if nxt == eos:
                break
            step = torch.as_tensor([nxt])
    seconds = time.perf_counter() - t0
    return Generated(tok.decode(expand(out, base, vocab)), out, seconds)


def ann_bits(model, tok: Tokenizer, rows: MergedRows, texts: Sequence[str], vocab: Sequence[tuple[int, ...]],
             index: OutputIndex, k: int = 64, tail_sample: int = 2048, tables=None, seed: int = 0) -> dict:
    """Bits per byte of ``texts`` segmented with ``vocab`` (whole-word tokens where the text has
    them, the model's tokens elsewhere) under the full union softmax, and under the index's
    estimate of it: the exact rows' and the k candidates' terms plus the rest of the partition
    function estimated from a uniform sample of ``tail_sample`` indexed rows (unbiased; what a
    retrieval-based softmax can know without scoring every row). Also how often the index's top-1 is the full
    softmax's top-1."""
    import torch

    from ..lm import hidden_states

    e_in, e_out = tables if tables is not None else union_table(rows, vocab)
    n = e_out.shape[0]
    lookup = {t: rows.base.shape[0] + j for j, t in enumerate(vocab)}
    gen = torch.Generator().manual_seed(seed)
    full = approx = 0.0
    agree = total = 0
    with torch.inference_mode():
        for seq in _segment_with(texts, tok, lookup):
            s = torch.as_tensor([prefix_id(tok)] + seq)
            h = hidden_states(model, e_in, s[None, :-1])[0]
            logits, target = h @ e_out.T, s[1:]
            pos = torch.arange(len(target))
            full -= float(torch.log_softmax(logits, -1)[pos, target].sum())
            cand, cl = index.search(h, k)
            sample = torch.randint(index.exact, n, (tail_sample,), generator=gen)
            outside = ~(sample[None, :, None] == cand[:, None, index.exact:]).any(-1)  # [T, m]
            tail = torch.logsumexp((h @ e_out[sample].T).masked_fill(~outside, float("-inf")), 1)
            tail = tail + math.log((n - index.exact) / tail_sample)  # E[sample sum outside] = m/(n-exact) x tail
            z = torch.logsumexp(torch.cat([cl, tail[:, None]], 1), 1)
            approx -= float((logits[pos, target] - z).sum())
            agree += int((cand[pos, cl.argmax(1)] == logits.argmax(1)).sum())
            total += len(target)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    if not (math.isfinite(full) and math.isfinite(approx)):
        raise TokkitError("non-finite log-probabilities; no result")
    ln2 = math.log(2)
    return {"bits_per_byte_full": full / ln2 / n_bytes, "bits_per_byte_ann": approx / ln2 / n_bytes,
            "top1_agreement": agree / max(total, 1), "tokens": total, "bytes": n_bytes}


def _segment_with(texts: Sequence[str], tok: Tokenizer, lookup: dict[tuple[int, ...], int]) -> list[list[int]]:
    """Each text's segments replaced by their vocabulary id when the vocabulary holds them."""
    out = []
    for ss in segments(texts, tok, "word"):
        seq: list[int] = []
        for s in ss:
            seq.extend([lookup[s]] if s in lookup else s)
        out.append(seq)
    return out
