"""Healing objectives over a padded batch.

- ``lm``: next-token cross-entropy of the student on its own tokenization (nats per token).
- ``alm``: approximate likelihood matching (Minixhofer et al. 2025). Each piece is split at the
  byte positions where the teacher's and the student's tokenizations both end a token; a
  chunk's log-probability is the sum of its tokens' log-probabilities, on each side. The
  student's chunk probability is pulled towards the teacher's with the binarised KL divergence
  KL(Bern(p_T^(1/T)) || Bern(p_S^(1/T))) (the paper's binarised f-divergence with KL, and its
  temperature T), averaged over chunks. Chunks end where both models predict a token boundary,
  so both log-probabilities measure the same event: "the text continues with these bytes, then
  a token boundary" (the paper's debiasing of chunk ends is not applied).
"""

from __future__ import annotations

import math


def token_logprobs(model, ids, mask, prefix: int):
    """log P(token t | prefix, tokens before t) for a padded batch ``ids`` [B, n] (mask [B, n]);
    the first token is conditioned on ``prefix`` (BOS or EOS). Returns [B, n]."""
    import torch

    b = ids.shape[0]
    inp = torch.cat([torch.full((b, 1), prefix, dtype=ids.dtype, device=ids.device), ids[:, :-1]], dim=1)
    am = torch.cat([torch.ones((b, 1), dtype=mask.dtype, device=mask.device), mask[:, :-1]], dim=1)
    logits = model(input_ids=inp, attention_mask=am).logits.float()
    lp = torch.log_softmax(logits, dim=-1)
    return lp.gather(-1, ids[..., None])[..., 0] * mask


def chunk_sums(lp, chunk, n_chunks: int):
    """Sum token log-probabilities [B, n] into chunks (chunk ids [B, n], -1: none) -> [B, C]."""
    import torch

    b = lp.shape[0]
    out = torch.zeros((b, n_chunks + 1), dtype=lp.dtype, device=lp.device)
    idx = torch.where(chunk >= 0, chunk, torch.full_like(chunk, n_chunks))
    return out.scatter_add(1, idx, lp)[:, :n_chunks]


def _log1mexp(x):
    """log(1 - exp(x)) for x < 0, stable on both sides of log(1/2)."""
    import torch

    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def alm_loss(student_chunks, teacher_chunks, chunk_mask, temperature: float = 1.0, eps: float = 1e-6):
    """Mean binarised KL over the chunks present (``chunk_mask`` [B, C])."""
    import torch

    a = (teacher_chunks / temperature).clamp(max=-eps)
    s = (student_chunks / temperature).clamp(max=-eps)
    pa = torch.exp(a)
    kl = pa * (a - s) + (1 - pa) * (_log1mexp(a) - _log1mexp(s))
    return (kl * chunk_mask).sum() / chunk_mask.sum().clamp(min=1)


def lm_loss(student_lp, mask):
    return -(student_lp * mask).sum() / mask.sum().clamp(min=1)
