"""Brute-force byte-level probabilities: enumerate every token sequence (exactness oracle for
small vocabularies and short texts; exponential, never for real use).

Definitions as in :mod:`tokkit.bytes.model`. In canonical semantics a cover counts when it is
the tokenizer's own encoding of the text it spells, and the text may end after a context only
when the context is the encoding of that text; checked here by re-encoding whole strings.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..tokenizer import Tokenizer
from .model import default_prefix_id
from .vocab import prepare


class Oracle:
    def __init__(self, model, tok: Tokenizer, semantics: str = "canonical", prefix_token: int | None = None,
                 end_token: int | None = None):
        import torch

        self.torch = torch
        self.model = model
        self.tok = tok
        self.semantics = semantics
        self.cond = default_prefix_id(tok) if prefix_token is None else prefix_token
        self.eos = tok.vocab.eos_id if end_token is None else end_token
        text = prepare(tok, False).text
        self.text_ids = [i for i, ok in enumerate(text) if ok]
        allowed = np.asarray(text, dtype=bool)
        if self.eos is not None:
            allowed[self.eos] = True
        self.allowed = torch.as_tensor(allowed)
        self.tokens = tok.vocab.tokens
        self._logq = lru_cache(maxsize=None)(self._logq_uncached)
        self._canon = lru_cache(maxsize=None)(self._canon_uncached)

    def _logq_uncached(self, ctx: tuple) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            out = self.model(input_ids=torch.as_tensor([[self.cond, *ctx]]))
        logits = out.logits[0, -1, : len(self.tokens)].double().masked_fill(~self.allowed, -math.inf)
        return torch.log_softmax(logits, -1).numpy()

    def _canon_uncached(self, seq: tuple) -> bool:
        """seq is the encoding of what it spells."""
        if not seq:
            return True
        try:
            s = b"".join(self.tokens[i] for i in seq).decode("utf-8")
        except UnicodeDecodeError:
            return False
        return tuple(int(i) for i in self.tok.encode(s, special="text")) == seq

    def _ok(self, seq: tuple) -> bool:
        return self.semantics == "all" or self._canon(seq)

    def contexts(self, x: bytes):
        """(sequence, end, logP) for every (allowed) token sequence spelling x[:s], s <= len(x)."""
        out = []
        stack = [((), 0, 0.0)]
        while stack:
            seq, s, lp = stack.pop()
            out.append((seq, s, lp))
            lq = self._logq(seq)
            for v in self.text_ids:
                t = self.tokens[v]
                if s + len(t) <= len(x) and x.startswith(t, s) and lq[v] > -math.inf:
                    stack.append((seq + (v,), s + len(t), lp + float(lq[v])))
        return out

    def masses(self, x: bytes) -> np.ndarray:
        """Unnormalized: log P(prefix x.b) for b < 256, log P(x then end) at 256."""
        acc = np.zeros(257)
        n = len(x)
        for seq, s, lp in self.contexts(x):
            lq = self._logq(seq)
            for v in self.text_ids:
                t = self.tokens[v]
                if len(t) > n - s and t.startswith(x[s:]) and self._ok(seq + (v,)):
                    acc[t[n - s]] += math.exp(lp + lq[v])
            if s == n and self.eos is not None and self._ok(seq):
                acc[256] += math.exp(lp + lq[self.eos])
        with np.errstate(divide="ignore"):
            return np.log(acc)

    def next_byte_logprobs(self, x: bytes) -> np.ndarray:
        m = self.masses(x)
        return m - np.logaddexp.reduce(m)

    def prefix_logmass(self, x: bytes) -> float:
        """log of the cover mass of x."""
        if not x:
            return 0.0
        return float(self.masses(x[:-1])[x[-1]])
