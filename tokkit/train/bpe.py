"""Byte-level BPE training on tokkit's native core, from a :class:`~tokkit.counts.CountTable`.

The ids follow Hugging Face's BpeTrainer: special tokens first, then the 256 bytes ordered by
the code point of their byte-level character, then one token per merge in creation order; with
the same tie rule (highest count, then smallest pair of ids) the merges are HF's own on the same
counts (``tests/test_train.py``). Any prefix of the merge list is the exact result of training
to that smaller size, so one run gives every snapshot size.
"""

from __future__ import annotations

from typing import Sequence

from .. import _native
from ..counts import CountTable
from ..errors import TokkitError
from ..vocab import AddedToken, ModelKind, Role, Step, Surface, TokenType, Vocabulary
from ..vocab import spec


def train_bpe(
    counts: CountTable,
    vocab_size: int,
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    min_frequency: int = 0,
    max_token_bytes: int | None = None,
    replay: Sequence[tuple[bytes, bytes]] = (),
    max_words: int | None = None,
    forbid: Sequence[bytes] = (),
) -> Vocabulary:
    """Learn a byte-level BPE vocabulary of ``vocab_size`` tokens (specials + 256 bytes + merges).

    ``replay``: merges applied first, in order (extending a tokenizer, SuperBPE's stage 2);
    ``max_words`` / ``forbid``: constraints on new tokens (SuperBPE: 4 and ``[b": "]``).
    """
    base = len(special_tokens) + 256
    if vocab_size < base:
        raise TokkitError(f"vocab_size {vocab_size} is smaller than the {base} special and byte tokens")
    n_merges = vocab_size - base - len(replay)
    if n_merges < 0:
        raise TokkitError(f"vocab_size {vocab_size} leaves no room for the {len(replay)} replayed merges")
    learned = _native.train_bpe(counts.pieces, counts.counts.tolist(), n_merges, replay=[tuple(m) for m in replay],
                                min_frequency=min_frequency, max_token_bytes=max_token_bytes, max_words=max_words,
                                forbid=list(forbid))
    table = _native.bytes_to_unicode()
    tokens: list[bytes] = [s.encode("utf-8") for s in special_tokens]
    tokens += sorted((bytes([b]) for b in range(256)), key=lambda x: ord(table[x[0]]))
    index = {t: i for i, t in enumerate(tokens) if i >= len(special_tokens)}
    merges = []
    for a, b, _count in learned:
        if a not in index or b not in index:
            raise TokkitError(f"replayed merge {a!r} + {b!r} uses a token the vocabulary does not have")
        t = a + b
        if t not in index:
            index[t] = len(tokens)
            tokens.append(t)
        merges.append((index[a], index[b], index[t]))
    types = [TokenType.CONTROL] * len(special_tokens) + [TokenType.NORMAL] * (len(tokens) - len(special_tokens))
    added = [AddedToken(id=i, content=s, special=True, roles=frozenset({Role.EOS}) if i == 0 else frozenset(),
                        in_model=True) for i, s in enumerate(special_tokens)]
    pretok = [Step(s["kind"], dict(s.get("params", {}))) for s in counts.pretokenizer]
    return Vocabulary(model=ModelKind.BPE, tokens=tokens, types=types, surface=Surface.BYTE_LEVEL, merges=merges,
                      added=added, pretokenizer=pretok,
                      decoder=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=True)],
                      post_processor=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=False)],
                      meta={"trainer": "tokkit bpe", "merge_counts": [c for _, _, c in learned]})
