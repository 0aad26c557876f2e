"""``ByteLM``: a token-level causal LM as a model over bytes.

Definitions (see docs/bytes.md). For a prefix x, ``P(prefix x)`` is the sum of P(t_1..t_k) over
the *covers* of x: token sequences whose first k-1 tokens spell a strict prefix of x and whose
last token starts with the rest of x. The next-byte distribution after x is
``P(prefix x.b) / Z`` for the 256 bytes and ``P(x, then end of text) / Z`` at index 256, Z their
sum. Semantics "all" sums over every token sequence (then Z = P(prefix x) and the chain rule is
exact); "canonical" keeps only sequences the tokenizer's own encoder would produce.

Token probabilities: the model conditioned on the tokenizer's BOS (else EOS) token; its
next-token distribution is renormalised over the ids that spell text plus the end-of-text token
(other special tokens never appear inside text).

Where exactness is given up: ``beam``/``prune`` (default: none for canonical; a beam of 32
contexts for "all", whose cover grows exponentially otherwise). ``ByteLM.pruned`` says whether
any context was dropped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Callable, Iterable, Sequence

import numpy as np

from .. import _native
from ..errors import TokkitError
from ..lm import cache_kwargs, returned_cache
from ..tokenizer import Tokenizer
from .vocab import prepare

END = 256  # index of the end-of-text entry in a next-byte distribution
_NONE = 2**32 - 1


def _as_bytes(x) -> bytes:
    if isinstance(x, str):
        return x.encode("utf-8")
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x)
    raise TypeError(f"expected bytes or str, not {type(x).__name__}")


def _check_int(name: str, value, least: int, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise TokkitError(f"{name} must be an integer >= {least}{' or None' if none_ok else ''}, not {value!r}")


#: bytes between progress calls inside one text (a call is cheap; a model call per byte is not)
PROGRESS_BYTES = 16


@contextlib.contextmanager
def _byte_progress(progress, total: int):
    """Yields ``advance(bytes_done)`` (None without progress): a rich bar on stderr for True,
    the caller's callable otherwise."""
    if not progress:
        yield None
        return
    if callable(progress):
        yield progress
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    with Progress(TextColumn("bytes score"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("score", total=total)
        yield lambda done: bar.update(task, completed=done)


def _finite_bits(nats: float, n: int) -> float:
    """Bits per byte from a total negative log-likelihood, refused when it is not a finite number."""
    if math.isnan(nats):
        raise TokkitError("the model's log-probabilities are not numbers (NaN): its weights or activations overflow; "
                          "no result")
    if math.isinf(nats):
        raise TokkitError("the text has probability zero under this model (a beam too narrow drops every context "
                          "that could spell it: raise the beam); no result")
    return nats / math.log(2) / max(n, 1)


def _logsumexp(a: np.ndarray) -> float:
    m = float(np.max(a))
    if m == -math.inf:
        return m
    return m + math.log(float(np.sum(np.exp(a - m))))


def default_prefix_id(tok: Tokenizer) -> int:
    """The conditioning token: BOS when the tokenizer defines one, else EOS."""
    from ..lm import prefix_id

    return prefix_id(tok)


class _TreeEvaluator:
    """Next-token log-probabilities for the contexts of a cover tree. All evaluated tokens live
    in one KV cache (in order of evaluation); a batch of new contexts (each one token after an
    evaluated parent) is one forward whose 4D attention mask lets each new token see exactly
    its ancestors. The cache is compacted when most of it belongs to dead branches."""

    def __init__(self, model, n_vocab: int, allowed: np.ndarray, cond_id: int | None):
        import torch
        from transformers import DynamicCache

        self.torch = torch
        self.model = model
        self.n_vocab = n_vocab
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.allowed = torch.as_tensor(allowed, device=self.device)
        self.cond_id = cond_id
        self.cache = DynamicCache(config=model.config)
        self.n_slots = 0
        self.chain: dict[int, np.ndarray] = {}  # node -> cache slots from the root to the node
        self.forwards = 0
        self.tokens_evaluated = 0

    def evaluate(self, pending: Sequence[tuple[int, int, int, int]]) -> np.ndarray:
        """Rows of float64 log-probabilities (over the vocabulary) for (node, parent, token,
        depth) tuples; the root (parent NONE) is the conditioning token."""
        torch = self.torch
        m = len(pending)
        L = self.n_slots
        ids, pos = [], []
        neg = torch.finfo(self.dtype).min
        mask = torch.full((1, 1, m, L + m), neg, dtype=self.dtype)
        for i, (node, parent, token, depth) in enumerate(pending):
            if parent == _NONE:
                if self.cond_id is None:
                    raise TokkitError("no conditioning token (the model needs one to predict the first token)")
                ids.append(self.cond_id)
            else:
                ids.append(token)
                mask[0, 0, i, torch.as_tensor(self.chain[parent])] = 0
            pos.append(depth)
            mask[0, 0, i, L + i] = 0
        with torch.no_grad():
            out = self.model(input_ids=torch.as_tensor([ids], device=self.device),
                             position_ids=torch.as_tensor([pos], device=self.device),
                             attention_mask=mask.to(self.device), **cache_kwargs(self.model.forward, self.cache))
        self.cache = returned_cache(out)
        logits = out.logits[0, :, : self.n_vocab].double()
        logits = logits.masked_fill(~self.allowed[None, :], -math.inf)
        logq = torch.log_softmax(logits, dim=-1).cpu().numpy()
        if np.isnan(logq).any():
            raise TokkitError("the model's log-probabilities are not numbers (NaN): its weights or activations "
                              "overflow; no result")
        for i, (node, parent, _, _) in enumerate(pending):
            base = self.chain[parent] if parent != _NONE else np.zeros(0, np.int64)
            self.chain[node] = np.append(base, L + i)
        self.n_slots = L + m
        self.forwards += 1
        self.tokens_evaluated += m
        return logq

    def compact(self, alive: Iterable[int]) -> None:
        """Forget dead branches: keep the cache slots of the alive nodes' ancestors."""
        alive = [a for a in alive if a in self.chain]
        keep = np.unique(np.concatenate([self.chain[a] for a in alive])) if alive else np.zeros(0, np.int64)
        if self.n_slots < 256 or len(keep) > self.n_slots // 2:
            return
        torch = self.torch
        remap = np.full(self.n_slots, -1, np.int64)
        remap[keep] = np.arange(len(keep))
        idx = torch.as_tensor(keep, device=self.device)
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(-2, idx)
            layer.values = layer.values.index_select(-2, idx)
        self.chain = {a: remap[self.chain[a]] for a in alive}
        self.n_slots = len(keep)


class _Session:
    """One growing prefix: the native cover plus the model state of its contexts."""

    def __init__(self, lm: "ByteLM"):
        self.lm = lm
        self.cover = _native.Cover(lm._prep.native, lm.semantics == "canonical", lm.beam,
                                   math.inf if lm.prune is None else lm.prune)
        self.ev = _TreeEvaluator(lm.model, lm.n_vocab, lm._allowed, lm.prefix_token)
        self.text = b""  # the user's bytes (after the tokenizer's lead bytes)
        self._evaluate()
        for b in lm._prep.lead:
            self._push_internal(b)

    def _evaluate(self) -> None:
        pend = self.cover.pending()
        if not pend:
            return
        eos = self.lm.end_token
        for a in range(0, len(pend), self.lm.max_batch):
            chunk = pend[a: a + self.lm.max_batch]
            logq = self.ev.evaluate(chunk)
            for (node, *_), row in zip(chunk, logq):
                self.cover.set_dist(node, row.tobytes(), float(row[eos]) if eos is not None else -math.inf)
        self.ev.compact(self.cover.contexts())

    def _push_internal(self, b: int, future: bytes = b"") -> None:
        if self.cover.push(b):
            if future:
                # contexts that cannot spell the rest of what is pushed now are dead whatever
                # follows: no model call for them
                self.cover.drop_dead(future)
            self._evaluate()
        if not self.cover.contexts():
            hint = "; the beam dropped every context that could continue it (raise beam)" if self.cover.pruned else ""
            raise TokkitError(f"the prefix {self.cover.text[-40:]!r} has probability zero under this model "
                              f"({self.lm.semantics} semantics){hint}")

    def push(self, data: bytes) -> None:
        for i, b in enumerate(data):
            self._push_internal(b, data[i + 1:])
        self.text += data

    def score(self, x: bytes, end: bool, progress: Callable[[int], None] | None = None) -> float:
        """log P(prefix x) (with ``end``: of x then end of text), relative to the lead bytes.
        Knowing the whole text, a new context is evaluated only if an allowed token can spell
        the bytes that follow; the contexts born at the last byte are not evaluated unless the
        end of text is scored (the session cannot be extended afterwards). ``progress(n)`` is
        called after every :data:`PROGRESS_BYTES` bytes (and at the end) with the bytes done."""
        base = self.cover.cover_logmass() if self.lm._prep.lead else 0.0
        for i, b in enumerate(x):
            if progress is not None and i and i % PROGRESS_BYTES == 0:
                progress(i)
            self.cover.push(b)
            if i + 1 < len(x):
                self.cover.drop_dead(x[i + 1:])
            if i + 1 < len(x) or end:
                self._evaluate()
            if not self.cover.contexts():
                return -math.inf
        self.text += x
        if progress is not None:
            progress(len(x))
        if end:
            return float(self.log_masses()[END]) - base
        return float(self.cover.cover_logmass()) - base

    def log_masses(self) -> np.ndarray:
        return np.asarray(self.cover.next_masses())


class ByteLM:
    """A causal LM over tokens as a model over bytes.

    ``semantics``: "canonical" (only tokenizations the tokenizer itself produces) or "all"
    (every tokenization). ``beam``: keep at most this many contexts (None: all, exact; "auto":
    exact for canonical, 32 for "all"); ``prune``:
    drop contexts whose probability is below the best one's by more than this (natural log).
    ``prefix_token``: conditioning id (default BOS, else EOS); ``end_token``: the id whose
    probability is the end of text (default EOS).
    """

    def __init__(self, model, tokenizer: Tokenizer, semantics: str = "canonical", beam: int | None | str = "auto",
                 prune: float | None = None, prefix_token: int | None = None, end_token: int | None = None,
                 max_batch: int = 64):
        if semantics not in ("canonical", "all"):
            raise TokkitError(f"semantics must be 'canonical' or 'all', not {semantics!r}")
        self.model = model
        self.tokenizer = tokenizer
        self.semantics = semantics
        if beam == "auto":
            beam = None if semantics == "canonical" else 32
        _check_int("beam", beam, 1, none_ok=True)
        _check_int("max_batch", max_batch, 1)
        if prune is not None and not (isinstance(prune, (int, float)) and prune >= 0):
            raise TokkitError(f"prune must be None or a number >= 0 (natural log), not {prune!r}")
        self.beam = beam
        self.prune = prune
        self.max_batch = max_batch
        self.prefix_token = default_prefix_id(tokenizer) if prefix_token is None else prefix_token
        self.end_token = tokenizer.vocab.eos_id if end_token is None else end_token
        self.n_vocab = tokenizer.vocab.size
        n_model = model.get_output_embeddings().weight.shape[0] if model.get_output_embeddings() is not None else None
        if n_model is not None and n_model < self.n_vocab:
            raise TokkitError(f"the model predicts {n_model} ids but the tokenizer has {self.n_vocab}")
        self._prep = prepare(tokenizer, semantics == "canonical")
        allowed = np.asarray(self._prep.text, dtype=bool)
        if self.end_token is not None:
            allowed[self.end_token] = True
        self._allowed = allowed
        self._session: _Session | None = None
        self._last_pruned = 0
        self.forwards = 0  # model calls, all sessions
        self.tokens_evaluated = 0

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kw) -> "ByteLM":
        """A model directory (config.json + tokenizer) or a GGUF file."""
        from ..lm import load_model

        model, tok = load_model(path)
        return cls(model, tok, **kw)

    # -- sessions ---------------------------------------------------------------------------
    def _at(self, prefix: bytes) -> _Session:
        s = self._session
        if s is None or not prefix.startswith(s.text):
            if s is not None:
                self._retire(s)
            s = self._session = _Session(self)
        s.push(prefix[len(s.text):])
        return s

    def _retire(self, s: _Session) -> None:
        self.forwards += s.ev.forwards
        self.tokens_evaluated += s.ev.tokens_evaluated
        self._last_pruned = s.cover.pruned

    def reset(self) -> None:
        if self._session is not None:
            self._retire(self._session)
        self._session = None

    def stats(self) -> dict:
        s = self._session
        return {"forwards": self.forwards + (s.ev.forwards if s else 0),
                "tokens_evaluated": self.tokens_evaluated + (s.ev.tokens_evaluated if s else 0),
                "pruned": s.cover.pruned if s else self._last_pruned}

    @property
    def pruned(self) -> bool:
        """Whether the last computation dropped contexts (beam/prune): then it is approximate."""
        return bool(self._session.cover.pruned if self._session else self._last_pruned)

    # -- probabilities ----------------------------------------------------------------------
    def next_byte_logprobs(self, prefix=b"") -> np.ndarray:
        """257 natural-log probabilities: the next byte (0..255) or end of text (256)."""
        m = self._at(_as_bytes(prefix)).log_masses()
        return m - _logsumexp(m)

    def logprob(self, text, end: bool = False, progress: Callable[[int], None] | None = None) -> float:
        """log P(the text starts with ``text``): the cover mass, the sum of P(t) over the covers
        of ``text`` (with ``end``: over the token sequences spelling exactly ``text``, times the
        probability of the end-of-text token). In "all" semantics this equals the chain rule
        over next-byte distributions (:meth:`chain_logprob`); in canonical semantics the
        conditionals are renormalised over canonical continuations at every byte, so the chain
        is a little larger (the mass the model puts on non-canonical continuations)."""
        self.reset()
        s = _Session(self)
        try:
            return s.score(_as_bytes(text), end, progress)
        finally:
            self._retire(s)

    def chain_logprob(self, text, end: bool = False) -> float:
        """The sum of log P(x_i | x_<i) over the next-byte distributions (the probability of
        ``text`` under the byte-level model that :meth:`sample` draws from)."""
        return float(np.sum(self.byte_logprobs(text, end=end)))

    def byte_logprobs(self, text, end: bool = False) -> np.ndarray:
        """Per-byte log P(x_i | x_<i) (and the end of text last, with ``end``)."""
        x = _as_bytes(text)
        self.reset()
        s = self._at(b"")
        out = np.empty(len(x) + int(end))
        for i, b in enumerate(x):
            m = s.log_masses()
            out[i] = m[b] - _logsumexp(m)
            s.push(x[i:i + 1])
        if end:
            m = s.log_masses()
            out[-1] = m[END] - _logsumexp(m)
        return out

    def bits_per_byte(self, text, end: bool = False) -> float:
        x = _as_bytes(text)
        return _finite_bits(-self.logprob(x, end=end), len(x))

    def score(self, texts: Sequence, progress: bool | Callable[[int], None] = False,
              names: Sequence[str] | None = None) -> dict:
        """Bits per byte over texts (each scored from the start), with speed figures and one
        record per text (``names[i]`` or its index). ``progress``: True for a progress bar of
        bytes on stderr (rich), or a callable given the bytes done so far."""
        if names is not None and len(names) != len(texts):
            raise TokkitError("score: one name per text")
        f0, t0 = self.stats()["forwards"], time.perf_counter()
        items = [_as_bytes(t) for t in texts]
        with _byte_progress(progress, sum(len(x) for x in items)) as advance:
            per_text, nll, n = [], 0.0, 0
            for i, x in enumerate(items):
                t1, done = time.perf_counter(), n
                lp = self.logprob(x, progress=None if advance is None else (lambda k, d=done: advance(d + k)))
                nll -= lp
                n += len(x)
                per_text.append({"name": names[i] if names is not None else i, "bytes": len(x),
                                 "bits_per_byte": _finite_bits(-lp, len(x)), "seconds": time.perf_counter() - t1})
        secs = time.perf_counter() - t0
        forwards = self.stats()["forwards"] - f0
        return {"bits_per_byte": _finite_bits(nll, n), "bytes": n, "nats": nll, "seconds": secs,
                "bytes_per_second": n / secs if secs else float("inf"), "forwards": forwards,
                "forwards_per_byte": forwards / max(n, 1), "semantics": self.semantics, "pruned": self.pruned,
                "texts": per_text}

    # -- generation -------------------------------------------------------------------------
    def sample(self, prompt=b"", max_bytes: int = 64, temperature: float = 1.0, seed: int | None = None,
               stop: Sequence[bytes] = (), greedy: bool = False) -> bytes:
        """Bytes drawn one at a time after ``prompt`` (which may end inside a token) until the
        end of text, a stop string, or ``max_bytes``. Returns the new bytes only."""
        _check_int("max_bytes", max_bytes, 0)
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
            raise TokkitError(f"temperature must be a finite number >= 0 (0: greedy), not {temperature!r}")
        if seed is not None:
            _check_int("seed", seed, 0)
        rng = np.random.default_rng(seed)
        s = self._at(_as_bytes(prompt))  # extends the current session when it can
        out = bytearray()
        stops = [_as_bytes(x) for x in stop]
        for _ in range(max_bytes):
            m = s.log_masses()
            lp = m - _logsumexp(m)
            if np.isnan(lp).any():
                raise TokkitError("the model's next-byte probabilities are not numbers (NaN); no sample")
            if greedy or temperature == 0:
                b = int(np.argmax(lp))
            else:
                w = np.exp((lp - lp.max()) / temperature)
                b = int(rng.choice(257, p=w / w.sum()))
            if b == END:
                break
            out.append(b)
            s.push(bytes([b]))
            if any(out.endswith(x) for x in stops if x):
                break
        return bytes(out)

    def complete(self, prompt, max_bytes: int = 32, stop: Sequence[bytes] = (), **kw) -> bytes:
        """Greedy byte-level continuation of ``prompt`` (it may end in the middle of a token)."""
        return self.sample(prompt, max_bytes=max_bytes, stop=stop, greedy=True, **kw)
