"""Running a model on dynamic tokens: prefill scoring and union-vocabulary scoring.

The model reads ``inputs_embeds`` (its own rows for its own ids, :class:`MergedRows` for merged
ones) at positions 0..T-1 of the shortened sequence, with its ordinary causal attention.

- **Prefill** (:func:`prefill_bits`): the prompt in dynamic tokens, the continuation in the
  model's own tokens; bits of the continuation given the prompt. Every budget scores the same
  continuation ids, so bits per byte compare exactly across budgets (budget 0 is the static model).
- **Union vocabulary** (:func:`union_bits`): the whole text in dynamic tokens, each predicted by a
  softmax over the model's vocabulary plus the batch's merged tokens (output rows from the
  hypernetwork). The bits are those of this one segmentation (an upper bound on the text's
  bits under the union model, which would sum over segmentations).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import TokkitError
from ..lm import head_logits, hidden_states, prefix_id
from ..tokenizer import Tokenizer
from .embed import MergedRows
from .merge import Budget, merge_batch

_WORD_START = re.compile(r"\s\S")


@dataclass
class Scored:
    bits: float
    bytes: int
    tokens: int  # the length of the sequences the model ran on (prompt and continuation)
    static_tokens: int  # the same texts in the model's own tokens
    merged: int  # merged tokens the batch made
    seconds: float
    prompt_tokens: int = 0  # prefill: the prompts' length in dynamic tokens
    static_prompt_tokens: int = 0  # and in the model's own tokens

    @property
    def bits_per_byte(self) -> float:
        return self.bits / self.bytes if self.bytes else float("nan")

    def as_dict(self) -> dict:
        return {"bits_per_byte": self.bits_per_byte, "bits": self.bits, "bytes": self.bytes, "tokens": self.tokens,
                "static_tokens": self.static_tokens, "reduction": 1 - self.tokens / max(self.static_tokens, 1),
                "merged_tokens": self.merged, "seconds": round(self.seconds, 3),
                **({"prompt_tokens": self.prompt_tokens, "static_prompt_tokens": self.static_prompt_tokens,
                    "prompt_reduction": 1 - self.prompt_tokens / self.static_prompt_tokens}
                   if self.static_prompt_tokens else {})}


def split_prompt(text: str, fraction: float = 0.5) -> tuple[str, str]:
    """(prompt, continuation): cut at the word start nearest to ``fraction`` of the text, so the
    continuation begins with its white space and a word ("...said" | " unto him")."""
    if not 0 < fraction < 1:
        raise TokkitError(f"the prompt fraction must lie strictly between 0 and 1, not {fraction}")
    want = int(len(text) * fraction)
    cuts = [m.start() for m in _WORD_START.finditer(text)]
    cuts = [c for c in cuts if 0 < c < len(text) - 1]
    if not cuts:
        raise TokkitError("a text with no word boundary to cut into prompt and continuation")
    c = min(cuts, key=lambda x: (abs(x - want), x))
    return text[:c], text[c:]


def _check_finite(bits: float) -> float:
    if not math.isfinite(bits):
        raise TokkitError(f"the model's log-probabilities are not finite numbers ({bits} bits); no result")
    return bits


def prefill_bits(model, tok: Tokenizer, rows: MergedRows, texts: Sequence[str], budget="word",
                 boundaries: str = "word", fraction: float = 0.5) -> Scored:
    """Bits of each text's continuation given its prompt in dynamic tokens (the prompts of all
    ``texts`` are merged as one batch)."""
    import torch

    pairs = [split_prompt(t, fraction) for t in texts]
    batch = merge_batch([p for p, _ in pairs], tok, budget, boundaries, max_pieces=rows.max_pieces)
    conts = tok.encode_batch([c for _, c in pairs], special="text")
    table = rows.rows(batch)
    e_in, _ = rows.split(table)
    e_out = rows.split(rows.base)[1]
    pid = prefix_id(tok)
    bits, n_bytes, n_tok, t0 = 0.0, 0, 0, time.perf_counter()
    with torch.inference_mode():
        for (_, cont), prompt_ids, cont_ids in zip(pairs, batch.ids, conts):
            seq = torch.as_tensor(np.concatenate([[pid], prompt_ids, cont_ids]).astype(np.int64))
            h = hidden_states(model, e_in, seq[None, :-1])[0, len(prompt_ids):]
            logp = torch.log_softmax(head_logits(model, h, e_out).float(), -1)
            target = torch.as_tensor(cont_ids.astype(np.int64))
            bits -= float(logp[torch.arange(len(target)), target].sum()) / math.log(2)
            n_bytes += len(cont.encode("utf-8"))
            n_tok += len(prompt_ids) + len(cont_ids)
    static = int(batch.static_lengths.sum()) + sum(len(c) for c in conts)
    return Scored(_check_finite(bits), n_bytes, n_tok, static, len(batch.new_tokens), time.perf_counter() - t0,
                  int(batch.lengths.sum()), int(batch.static_lengths.sum()))


def union_bits(model, tok: Tokenizer, rows: MergedRows, texts: Sequence[str], budget="word",
               boundaries: str = "word") -> Scored:
    """Bits of each text in dynamic tokens, predicted over the model's vocabulary plus the
    batch's merged tokens (one softmax over the union)."""
    import torch

    batch = merge_batch(list(texts), tok, budget, boundaries, max_pieces=rows.max_pieces)
    e_in, e_out = rows.split(rows.rows(batch))
    pid = prefix_id(tok)
    bits, t0 = 0.0, time.perf_counter()
    with torch.inference_mode():
        for ids in batch.ids:
            seq = torch.as_tensor(np.concatenate([[pid], ids]).astype(np.int64))
            h = hidden_states(model, e_in, seq[None, :-1])[0]
            logp = torch.log_softmax(head_logits(model, h, e_out).float(), -1)
            bits -= float(logp[torch.arange(len(ids)), seq[1:]].sum()) / math.log(2)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return Scored(_check_finite(bits), n_bytes, int(batch.lengths.sum()), int(batch.static_lengths.sum()),
                  len(batch.new_tokens), time.perf_counter() - t0)


def chunk_text(text: str, chars: int = 2000) -> list[str]:
    """A long text cut into pieces of about ``chars`` characters at word starts (each piece a
    text of its own, as in a batch of documents); pieces without a word boundary are dropped."""
    if chars < 16:
        raise TokkitError(f"chunks of {chars} characters are too short to split into prompt and continuation")
    out, a = [], 0
    while a < len(text):
        b = min(len(text), a + chars)
        if b < len(text):
            m = [x.start() for x in _WORD_START.finditer(text, a + chars // 2, b)]
            b = m[-1] if m else b
        piece = text[a:b]
        if _WORD_START.search(piece.strip()):
            out.append(piece)
        a = b
    return out


def _add(total: Scored | None, part: Scored) -> Scored:
    if total is None:
        return part
    import dataclasses

    return Scored(*(getattr(total, f.name) + getattr(part, f.name) for f in dataclasses.fields(Scored)))


def score(model, tok: Tokenizer, rows: MergedRows, texts: Sequence[str], budget="word", boundaries: str = "word",
          mode: str = "prefill", fraction: float = 0.5, batch_size: int = 16,
          progress: Callable[[int, int], None] | None = None) -> Scored:
    """:func:`prefill_bits` (``mode="prefill"``) or :func:`union_bits` (``mode="union"``) over
    ``texts`` in batches of ``batch_size`` texts (each batch merged on its own, as dynamic
    tokenization runs); ``progress(done, total)`` after each batch."""
    Budget.parse(budget)
    if mode not in ("prefill", "union"):
        raise TokkitError(f"mode must be 'prefill' or 'union', not {mode!r}")
    if not texts:
        raise TokkitError("no text to score")
    total = None
    for a in range(0, len(texts), batch_size):
        part = texts[a:a + batch_size]
        r = (prefill_bits(model, tok, rows, part, budget, boundaries, fraction) if mode == "prefill"
             else union_bits(model, tok, rows, part, budget, boundaries))
        total = _add(total, r)
        if progress:
            progress(min(a + batch_size, len(texts)), len(texts))
    return total
