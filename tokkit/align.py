"""Aligning two vocabularies on bytes, and the base model's rows and decompositions that every
transplant method and the ZeTT hypernetwork share (here, outside both packages, so that neither
imports the other for them).

Tokens are compared as the bytes they spell (the data model has already decoded byte-level
``Ġ``/``Ċ``, SentencePiece ``▁`` and ``<0xXX>`` byte-fallback pieces), so a GPT-2 token and a
SentencePiece token with the same bytes align. Special tokens align by their text, else by role
(bos, eos, pad, unk), each to its own row: chat markers never collapse onto one another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .tokenizer import Tokenizer
from .vocab import Role, TokenType, Vocabulary
from .vocab.model import _is_utf8 as _utf8


@dataclass
class Alignment:
    """For each new id, ``kind`` and ``source`` (the old id, -1 where missing):

    - "special": a special token mapped by its text, else by its role;
    - "copied": the same bytes, spelled the same way in both tokenizer files;
    - "byte-matched": the same bytes spelled differently (``Ġthe`` / ``▁the``, ``<0x41>`` / ``A``);
    - "missing": no old row; a transplant method makes it.
    """

    kind: list[str]
    source: np.ndarray  # int64, -1 where missing

    @property
    def missing(self) -> np.ndarray:
        return np.flatnonzero(self.source < 0)

    @property
    def shared(self) -> np.ndarray:
        """New ids of ordinary tokens that have an old row (the anchors of OMP)."""
        return np.flatnonzero(np.asarray([k in ("copied", "byte-matched") for k in self.kind], dtype=bool))

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for k in self.kind:
            out[k] = out.get(k, 0) + 1
        return out


def _byte_index(v: Vocabulary) -> dict[bytes, int]:
    """bytes -> id over ordinary tokens, byte-fallback pieces included (an ordinary token wins)."""
    idx = dict(v.index())
    for i, (b, t) in enumerate(zip(v.tokens, v.types)):
        if t == TokenType.BYTE and b not in idx:
            idx[b] = i
    return idx


def align(old: Vocabulary, new: Vocabulary) -> Alignment:
    """Align ``new``'s ids onto ``old``'s rows by the bytes each token spells."""
    specials = special_rows(new, old)
    added = {t.id for t in new.added}
    index = _byte_index(old)
    same_spelling = old.surface == new.surface
    kind, source = [], np.full(new.size, -1, dtype=np.int64)
    for i, (b, t) in enumerate(zip(new.tokens, new.types)):
        if i in specials:
            kind.append("special")
            source[i] = specials[i]
        elif i not in added and t != TokenType.CONTROL and b in index:
            j = index[b]
            kind.append("copied" if same_spelling and old.types[j] == t else "byte-matched")
            source[i] = j
        else:
            kind.append("missing")
    return Alignment(kind=kind, source=source)


def special_rows(new: Vocabulary, old: Vocabulary) -> dict[int, int]:
    """New special token id -> old row: the same text, else the same role (bos, eos, pad, unk,
    eot). Only special tokens (``special`` flag, or a role) are mapped; each old row is used by
    one new token at most, so distinct chat markers never collapse onto one row."""
    old_by_text = {t.content: t.id for t in old.added}
    out: dict[int, int] = {}
    used: set[int] = set()
    news = [t for t in new.added if t.special or t.roles]
    for t in news:  # exact text first, so a role match never steals a row another token owns
        j = old_by_text.get(t.content)
        if j is not None and j not in used:
            out[t.id] = j
            used.add(j)
    for t in news:
        if t.id in out:
            continue
        for r in (Role.BOS, Role.EOS, Role.PAD, Role.UNK, Role.EOT):
            j = old.role_id(r) if r in t.roles else None
            if j is not None and j not in used:
                out[t.id] = j
                used.add(j)
                break
    return out


def base_rows(model):
    """(rows [V_old, width], tied): the input embeddings, with the LM head's rows concatenated
    when the model does not tie them."""
    import torch

    e_in = model.get_input_embeddings().weight.detach()
    head = model.get_output_embeddings()
    tied = head is None or head.weight.data_ptr() == e_in.data_ptr() or torch.equal(head.weight, e_in)
    if tied:
        return e_in, True
    return torch.cat([e_in, head.weight.detach()], dim=1), False


def _old_ids(tok: Tokenizer, b: bytes, index: dict[bytes, int]) -> list[int]:
    """The old tokenizer's pieces for a byte string: valid UTF-8 runs encoded, other bytes alone
    (as the old vocabulary's single-byte tokens, when it has them)."""
    out: list[int] = []
    run: list[str] = []
    for ch in b.decode("utf-8", "surrogateescape") + "\udfff":  # sentinel flushes the last run
        if "\udc80" <= ch <= "\udcff" or ch == "\udfff":
            if run:
                out += [int(x) for x in tok.encode("".join(run), special="text")]
                run = []
            if ch != "\udfff":
                one = bytes([ord(ch) - 0xDC00])
                if one in index:
                    out.append(index[one])
        else:
            run.append(ch)
    return out


def decompose(new_tokens: Sequence[bytes], old: Tokenizer, max_pieces: int) -> tuple[np.ndarray, np.ndarray]:
    """(pieces [N, P] int64, lengths [N]): each new token encoded alone by the old tokenizer,
    truncated to ``max_pieces``; empty tokens get the old tokenizer's first id (length 0)."""
    index = old.vocab.index()
    n = len(new_tokens)
    pieces = np.zeros((n, max_pieces), dtype=np.int64)
    lengths = np.zeros(n, dtype=np.int64)
    plain = [i for i, t in enumerate(new_tokens) if _utf8(t)]
    if plain:
        enc = old.encode_batch([new_tokens[i].decode("utf-8") for i in plain], special="text")
        for i, ids in zip(plain, enc):
            ids = ids[:max_pieces]
            pieces[i, : len(ids)] = ids
            lengths[i] = len(ids)
    for i, t in enumerate(new_tokens):
        if not _utf8(t):
            ids = _old_ids(old, t, index)[:max_pieces]
            pieces[i, : len(ids)] = ids
            lengths[i] = len(ids)
    return pieces, lengths

