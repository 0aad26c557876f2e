"""Batch-level BPE: the merges of dynamic tokenization (Feher, Vulić, Minixhofer 2024).

A batch is first encoded by the model's own tokenizer. Adjacent tokens are joinable when no
boundary lies between them: ``boundaries="word"`` (a word is an optional leading space and a
run of non-space characters, or a run of white space, as GPT-2's pretokenizer splits words;
punctuation stays inside its word) or ``"pretoken"`` (the tokenizer's own pretokenizer pieces,
finer: "hello," is two pieces in GPT-2-style regexes). Inside those segments, the most frequent
adjacent pair across the whole batch is merged, again and again, until the budget is spent:
a number of merges, a target reduction of the batch's length (``"30%"``), or ``"word"`` (merge
until every segment is one token). A merged token is the tuple of the model's own ids it joins
(its decomposition, known by construction, is what the hypernetwork embeds); it never joins
more than ``max_pieces`` of them, the hypernetwork's input length.

Merged tokens get ids after the base vocabulary (``base_size + j``) in the order they were
made; :meth:`DynamicBatch.expand` maps a sequence back to the model's own ids, so the merged
sequence spells exactly the bytes of the static one.

Written by hand (a heap of pair counts with lazy invalidation, incremental updates per segment
type) because the symbols are the model's token ids, not characters: the trainers of
``tokenizers``, ``sentencepiece`` and tokkit's own native trainer all start from characters or
bytes and cannot take a segmentation as the alphabet.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import TokkitError
from ..tokenizer import Tokenizer

#: GPT-2's word rule without its letter/digit/punctuation classes: an optional leading space
#: with the non-space run after it, or white space (a run that leaves its last space to the
#: next word when a word follows, as ``\s+(?!\S)`` does)
_WORD = re.compile(r" ?\S+|\s+(?!\S)|\s+")
BOUNDARIES = ("word", "pretoken")


@dataclass(frozen=True)
class Budget:
    """How far to merge: ``merges`` (at most that many), ``reduction`` (stop once the batch is
    that fraction shorter than its static encoding), or ``word`` (until no pair is left)."""

    merges: int | None = None
    reduction: float | None = None
    word: bool = False

    @classmethod
    def parse(cls, value: "str | int | Budget") -> "Budget":
        """``"word"``, ``"30%"`` (a target reduction), or a number of merges."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, bool):
            raise TokkitError(f"a merge budget is a number of merges, a percentage or 'word', not {value!r}")
        if isinstance(value, int):
            if value < 0:
                raise TokkitError(f"a merge budget cannot be negative ({value})")
            return cls(merges=value)
        s = str(value).strip().lower()
        if s == "word":
            return cls(word=True)
        try:
            if s.endswith("%"):
                r = float(s[:-1]) / 100
                if not 0 <= r < 1:
                    raise ValueError
                return cls(reduction=r)
            return cls.parse(int(s))
        except ValueError:
            raise TokkitError(f"a merge budget is a number of merges, a percentage below 100% or 'word', "
                              f"not {value!r}") from None

    def __str__(self) -> str:
        if self.word:
            return "word"
        return f"{self.reduction:.0%}" if self.reduction is not None else str(self.merges)


@dataclass
class DynamicBatch:
    """A batch in dynamic tokens: ``ids[t]`` (int64) holds base ids (< ``base_size``) and merged
    ids (``base_size + j`` for ``new_tokens[j]``, a tuple of base ids)."""

    ids: list[np.ndarray]
    new_tokens: list[tuple[int, ...]]
    base_size: int
    static_lengths: np.ndarray
    merges: list[tuple[int, int]] = field(default_factory=list)  # (left, right) union ids, in order

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.ids), np.int64, count=len(self.ids))

    @property
    def reduction(self) -> float:
        """1 - merged length / static length, over the batch."""
        total = int(self.static_lengths.sum())
        return 1.0 - int(self.lengths.sum()) / total if total else 0.0

    def expand(self, seq: Sequence[int]) -> np.ndarray:
        """The model's own ids of a sequence of union ids."""
        return expand(seq, self.base_size, self.new_tokens)


def expand(seq: Sequence[int], base_size: int, new_tokens: Sequence[tuple[int, ...]]) -> np.ndarray:
    """The model's own ids of union ids (``base_size + j`` stands for ``new_tokens[j]``)."""
    out: list[int] = []
    for i in seq:
        i = int(i)
        out.extend(new_tokens[i - base_size] if i >= base_size else (i,))
    return np.asarray(out, dtype=np.int64)


def merge_batch(texts: Sequence[str], tokenizer: Tokenizer, budget: "str | int | Budget" = "word",
                boundaries: str = "word", min_freq: int = 1, max_pieces: int = 8) -> DynamicBatch:
    """Encode ``texts`` with ``tokenizer`` (special-token text read as text) and merge the batch.

    ``min_freq``: never merge a pair seen fewer times in the batch. Deterministic: ties between
    pairs of the same count go to the smaller (left, right) ids."""
    budget = Budget.parse(budget)
    for name, v in (("min_freq", min_freq), ("max_pieces", max_pieces)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise TokkitError(f"{name} must be an integer >= 1, not {v!r}")
    enc = tokenizer.encode_offsets(list(texts), special="text")
    segs = segments(texts, tokenizer, boundaries, enc)
    static = enc.lengths.astype(np.int64)
    merger = _PairMerger(Counter(s for ss in segs for s in ss if len(s) > 1), tokenizer.vocab.size, max_pieces)
    target = None if budget.reduction is None else int(static.sum() * (1 - budget.reduction))
    merger.run(budget.merges, target, int(static.sum()), min_freq)
    ids = [np.asarray([x for s in ss for x in merger.final(s)], dtype=np.int64) for ss in segs]
    return DynamicBatch(ids=ids, new_tokens=merger.new_tokens, base_size=tokenizer.vocab.size, static_lengths=static,
                        merges=merger.merges)


def segments(texts: Sequence[str], tokenizer: Tokenizer, boundaries: str = "word",
             enc=None) -> list[list[tuple[int, ...]]]:
    """Each text's own tokens cut into joinable runs (tuples of ids): a cut before a token that
    starts at a boundary, that does not touch the previous one, or when either is a special
    (added) token. ``enc``: the texts' :class:`~tokkit.encoding.Encoding`, when already made."""
    if boundaries not in BOUNDARIES:
        raise TokkitError(f"boundaries must be one of {', '.join(BOUNDARIES)}, not {boundaries!r}")
    if enc is None:
        enc = tokenizer.encode_offsets(list(texts), special="text")
    V = tokenizer.vocab.size
    special = np.zeros(V, dtype=bool)
    special[[t.id for t in tokenizer.vocab.added if t.special and t.id < V]] = True
    cut = _boundary_finder(tokenizer, boundaries)
    return [_segments(t, *enc[k], special, cut) for k, t in enumerate(texts)]


def _boundary_finder(tokenizer: Tokenizer, boundaries: str):
    """text -> set of UTF-8 byte offsets where a segment must start."""
    if boundaries == "pretoken":
        from ..errors import UnsupportedError
        from ..vocab import spec

        try:
            pt = spec.native_pretokenizer(tokenizer.vocab.pretokenizer)
            return lambda text: {a for a, _, _ in pt.spans(text)}
        except UnsupportedError as e:
            raise TokkitError(f"boundaries='pretoken': {e}; use boundaries='word'") from None

    def words(text: str) -> set[int]:
        if text.isascii():
            return {m.start() for m in _WORD.finditer(text)}
        from ..encoding import char_byte_offsets

        pos = char_byte_offsets(text)
        return {int(pos[m.start()]) for m in _WORD.finditer(text)}

    return words


def _segments(text: str, ids, starts, ends, special: np.ndarray, cut) -> list[tuple[int, ...]]:
    if len(ids) == 0:
        return []
    bounds = cut(text)
    ids = ids.astype(np.int64)
    sp = special[ids]
    brk = np.ones(len(ids), dtype=bool)
    if len(ids) > 1:
        brk[1:] = (starts[1:] != ends[:-1]) | sp[1:] | sp[:-1] | np.isin(starts[1:], list(bounds))
    idx = np.flatnonzero(brk).tolist() + [len(ids)]
    lst = ids.tolist()
    return [tuple(lst[a:b]) for a, b in zip(idx[:-1], idx[1:])]


class _PairMerger:
    """BPE over segment types (tuples of ids) with counts: a heap of (-count, pair), entries
    checked against the live count when popped; each merge rewrites only the types that hold
    the pair."""

    def __init__(self, types: Counter, base: int, max_pieces: int):
        self.base = base
        self.max_pieces = max_pieces
        self.words = [list(t) for t in types]
        self.orig = list(types)
        self.counts = [types[t] for t in types]
        self.pairs: Counter = Counter()
        self.where: defaultdict = defaultdict(set)
        self.new_tokens: list[tuple[int, ...]] = []
        self.merges: list[tuple[int, int]] = []
        self._final: dict[tuple[int, ...], list[int]] | None = None
        for w, (sym, c) in enumerate(zip(self.words, self.counts)):
            for p in zip(sym, sym[1:]):
                self.pairs[p] += c
                self.where[p].add(w)
        self.heap = [(-c, p) for p, c in self.pairs.items()]
        heapq.heapify(self.heap)

    def pieces(self, s: int) -> int:
        return len(self.new_tokens[s - self.base]) if s >= self.base else 1

    def run(self, limit: int | None, target: int | None, total: int, min_freq: int) -> None:
        while self.heap and (limit is None or len(self.merges) < limit) and (target is None or total > target):
            neg, p = heapq.heappop(self.heap)
            c = self.pairs.get(p, 0)
            if c != -neg:  # stale entry (the count changed; the live one is in the heap too)
                continue
            if c < min_freq:
                break
            if self.pieces(p[0]) + self.pieces(p[1]) > self.max_pieces:
                continue  # never mergeable: the hypernetwork cannot embed it
            total -= self._merge(p)

    def _merge(self, p: tuple[int, int]) -> int:
        """Apply one merge everywhere; the number of tokens it saved in the batch."""
        new = self.base + len(self.new_tokens)
        self.new_tokens.append(self._spell(p[0]) + self._spell(p[1]))
        self.merges.append(p)
        saved = 0
        touched: set = set()
        for w in list(self.where.pop(p, ())):
            sym, c = self.words[w], self.counts[w]
            for q in zip(sym, sym[1:]):
                self.pairs[q] -= c
                touched.add(q)
            out, i = [], 0
            while i < len(sym):
                if i + 1 < len(sym) and (sym[i], sym[i + 1]) == p:
                    out.append(new)
                    saved += c
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            self.words[w] = out
            for q in zip(out, out[1:]):
                self.pairs[q] += c
                self.where[q].add(w)
                touched.add(q)
        self.pairs.pop(p, None)
        for q in touched - {p}:
            if self.pairs[q] > 0:
                heapq.heappush(self.heap, (-self.pairs[q], q))
            else:
                self.pairs.pop(q, None)
                self.where.pop(q, None)
        return saved

    def _spell(self, s: int) -> tuple[int, ...]:
        return self.new_tokens[s - self.base] if s >= self.base else (s,)

    def final(self, seg: tuple[int, ...]) -> list[int]:
        """The merged symbols of one segment of the batch."""
        if len(seg) < 2:
            return list(seg)
        if self._final is None:
            self._final = dict(zip(self.orig, self.words))
        return self._final[seg]
