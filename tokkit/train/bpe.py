"""Byte-level BPE training on tokkit's native core, from a :class:`~tokkit.counts.CountTable`.

The ids follow Hugging Face's BpeTrainer: special tokens first, then the 256 bytes ordered by
the code point of their byte-level character, then one token per merge in creation order; with
the same tie rule (highest count, then smallest pair of ids) the merges are HF's own on the same
counts (``tests/test_train.py``). Any prefix of the merge list is the exact result of training
to that smaller size, so one run gives every snapshot size (:func:`snapshots`).

Extending a tokenizer (``base=``) replays its merges first and appends the new tokens after its
last id, so every existing id keeps its meaning (what a model trained on it needs).
"""

from __future__ import annotations

from typing import Callable, Sequence

from .. import _native
from ..counts import CountTable
from ..errors import TokkitError, UnsupportedError
from ..vocab import AddedToken, ModelKind, Role, Step, Surface, TokenType, Vocabulary
from ..vocab import spec

Learned = list[tuple[bytes, bytes, int]]


def learn_merges(
    counts: CountTable,
    n_merges: int,
    replay: Sequence[tuple[bytes, bytes]] = (),
    min_frequency: int = 0,
    max_token_bytes: int | None = None,
    max_token_chars: int | None = None,
    max_words: int | None = None,
    forbid: Sequence[bytes] = (),
    progress: Callable[[int], None] | None = None,
    accept: Callable[[bytes], bool] | None = None,
) -> Learned:
    """The native trainer: ``[(left, right, count)]``, the replayed merges first (with the number
    of times each was applied). ``accept(token_bytes)``: the caller's own constraint on new
    tokens (False: the pair is never merged); called from the trainer with the GIL held."""
    if n_merges < 0:
        raise TokkitError(f"no room for new merges ({n_merges})")
    try:
        return _native.train_bpe(counts.pieces, counts.counts.tolist(), n_merges, replay=[tuple(m) for m in replay],
                                 min_frequency=min_frequency, max_token_bytes=max_token_bytes, max_words=max_words,
                                 forbid=list(forbid), max_token_chars=max_token_chars, progress=progress,
                                 accept=accept)
    except OverflowError as e:  # the trainer's own limit (symbols it can index)
        raise TokkitError(str(e)) from None


def hf_byte_tokens() -> list[bytes]:
    """The 256 single bytes in HF's initial order (by the code point of their byte-level char)."""
    table = _native.bytes_to_unicode()
    return sorted((bytes([b]) for b in range(256)), key=lambda x: ord(table[x[0]]))


_NAMED_ROLES = {
    "<|endoftext|>": Role.EOS, "</s>": Role.EOS, "<|end|>": Role.EOS, "<|end_of_text|>": Role.EOS, "<eos>": Role.EOS,
    "<s>": Role.BOS, "<|start|>": Role.BOS, "<|begin_of_text|>": Role.BOS, "<bos>": Role.BOS,
    "<pad>": Role.PAD, "<|pad|>": Role.PAD, "<unk>": Role.UNK, "<|unk|>": Role.UNK, "<mask>": Role.MASK,
    "<|mask|>": Role.MASK, "<|sep|>": Role.SEP, "<sep>": Role.SEP, "<|cls|>": Role.CLS, "<cls>": Role.CLS,
}


def special_roles(specials: Sequence[str]) -> list[frozenset[Role]]:
    """Roles of new special tokens from their names; the first one is EOS if none is."""
    from ..vocab.roles import infer_roles

    roles = [frozenset({_NAMED_ROLES[s]} if s in _NAMED_ROLES else set()) | frozenset(infer_roles(s, True))
             for s in specials]
    if roles and not any(Role.EOS in r for r in roles):
        roles[0] = roles[0] | {Role.EOS}
    return roles


def _added(ids_from: int, contents: Sequence[str], special: bool) -> list[AddedToken]:
    return [AddedToken(id=ids_from + i, content=c, special=special, in_model=False) for i, c in enumerate(contents)]


def assemble(
    learned: Learned,
    pretokenizer: Sequence[Step] | Sequence[dict],
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    added_tokens: Sequence[str] = (),
    normalizer: Sequence[Step] = (),
    base: Vocabulary | None = None,
    pad_to: int | None = None,
    meta: dict | None = None,
) -> Vocabulary:
    """Build the Vocabulary from learned merges (every one of them: truncate ``learned`` first
    for a smaller snapshot).

    Without ``base``: specials, the 256 bytes, one token per merge, then ``added_tokens``
    (ordinary added tokens, matched before the model as HF does) and padding tokens up to
    ``pad_to``. With ``base``: its tokens and ids unchanged, new tokens after its last id.
    """
    pretok = [s if isinstance(s, Step) else Step.of(s["kind"], s.get("params", {}), "pre_tokenizer")
              for s in pretokenizer]
    if base is None:
        tokens: list[bytes] = [s.encode("utf-8") for s in special_tokens] + hf_byte_tokens()
        types = [TokenType.CONTROL] * len(special_tokens) + [TokenType.NORMAL] * 256
        index = {t: i for i, t in enumerate(tokens) if i >= len(special_tokens)}
        added = [AddedToken(id=i, content=s, special=True, roles=r, in_model=True)
                 for i, (s, r) in enumerate(zip(special_tokens, special_roles(special_tokens)))]
        merges: list[tuple[int, int, int]] = []
    else:
        tokens, types = list(base.tokens), list(base.types)
        index = dict(base.index())
        added = list(base.added)
        merges = list(base.merges)
        learned = learned[len(base.merges):]  # the replayed ones are base.merges already
    for a, b, _count in learned:
        if a not in index or b not in index:
            raise TokkitError(f"replayed merge {a!r} + {b!r} uses a token the vocabulary does not have")
        t = a + b
        if t not in index:
            index[t] = len(tokens)
            tokens.append(t)
            types.append(TokenType.NORMAL)
        merges.append((index[a], index[b], index[t]))
    if base is not None:
        # base specials that sit outside the model vocabulary (Llama-3's) stay where they are;
        # new tokens then come after all of them
        top = max([len(base.tokens)] + [t.id + 1 for t in base.added])
        if len(tokens) > len(base.tokens) and top > len(base.tokens):
            raise UnsupportedError("extending a tokenizer whose added tokens sit above its model vocabulary "
                                   "would renumber them; not supported")
    extra = [a for a in added_tokens if a.encode("utf-8") not in index]
    added += _added(len(tokens), extra, special=False)
    tokens += [a.encode("utf-8") for a in extra]
    types += [TokenType.USER_DEFINED] * len(extra)
    if pad_to is not None and pad_to > len(tokens):
        pads = [f"<|pad_{i}|>" for i in range(pad_to - len(tokens))]
        added += _added(len(tokens), pads, special=True)
        tokens += [p.encode() for p in pads]
        types += [TokenType.UNUSED] * len(pads)
    info = {"trainer": "tokkit bpe", "merge_counts": [c for _, _, c in learned]}
    info.update(meta or {})
    if base is not None:
        return base.copy(tokens=tokens, types=types, merges=merges, added=added, pretokenizer=pretok,
                         meta={**base.meta, **info, "extends": base.meta.get("source", "a tokenizer")})
    return Vocabulary(model=ModelKind.BPE, tokens=tokens, types=types, surface=Surface.BYTE_LEVEL, merges=merges,
                      added=added, pretokenizer=pretok, normalizer=list(normalizer),
                      decoder=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=True)],
                      post_processor=[spec.byte_level(add_prefix_space=True, use_regex=True, trim_offsets=False)],
                      meta=info)


def base_merges(base: Vocabulary) -> list[tuple[bytes, bytes]]:
    """A byte-level BPE vocabulary's merges as byte pairs (what the trainer replays)."""
    if base.model != ModelKind.BPE or base.surface != Surface.BYTE_LEVEL:
        raise UnsupportedError(f"only byte-level BPE tokenizers can be extended (this one is {base.model.value}, "
                               f"{base.surface.value})")
    return [(base.tokens[a], base.tokens[b]) for a, b, _ in base.merges]


def new_merge_budget(vocab_size: int, special_tokens: Sequence[str], added_tokens: Sequence[str],
                     base: Vocabulary | None = None) -> int:
    fixed = (len(base.tokens) if base is not None else len(special_tokens) + 256) + len(added_tokens)
    if vocab_size < fixed:
        what = (f"the {len(base.tokens)} tokens of the extended tokenizer" if base is not None
                else f"the {len(special_tokens)} special and 256 byte tokens")
        raise TokkitError(f"vocab size {vocab_size} is smaller than {what} plus {len(added_tokens)} added tokens")
    return vocab_size - fixed


def train_bpe(
    counts: CountTable,
    vocab_size: int,
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    min_frequency: int = 0,
    max_token_bytes: int | None = None,
    replay: Sequence[tuple[bytes, bytes]] = (),
    max_words: int | None = None,
    forbid: Sequence[bytes] = (),
    max_token_chars: int | None = None,
    added_tokens: Sequence[str] = (),
    normalizer: Sequence[Step] = (),
    base: Vocabulary | None = None,
    progress: Callable[[int], None] | None = None,
    accept: Callable[[bytes], bool] | None = None,
) -> Vocabulary:
    """Learn a byte-level BPE vocabulary of ``vocab_size`` tokens in all (specials + 256 bytes +
    merges + added tokens; or the base tokenizer's tokens + new merges + added tokens).

    ``replay``: merges applied first, in order (SuperBPE's stage 2); ``base``: extend this
    tokenizer (its merges are replayed, its ids kept); ``max_words`` / ``forbid``: constraints on
    new tokens (SuperBPE: 4 and ``[b": "]``); ``max_token_bytes`` / ``max_token_chars``: longest
    new token; ``accept(token_bytes) -> bool``: any other constraint, from Python.
    """
    if base is not None:
        if replay:
            raise TokkitError("give either base= or replay=, not both")
        replay = base_merges(base)
        n = new_merge_budget(vocab_size, (), added_tokens, base)
    else:
        n = new_merge_budget(vocab_size, special_tokens, added_tokens) - len(replay)
        if n < 0:
            raise TokkitError(f"vocab size {vocab_size} leaves no room for the {len(replay)} replayed merges")
    learned = learn_merges(counts, n, replay=replay, min_frequency=min_frequency, max_token_bytes=max_token_bytes,
                           max_token_chars=max_token_chars, max_words=max_words, forbid=forbid, progress=progress,
                           accept=accept)
    return assemble(learned, counts.pretokenizer, special_tokens, added_tokens, normalizer, base)


def snapshot(v: Vocabulary, size: int) -> Vocabulary:
    """The vocabulary training would have given at ``size`` (a prefix of the merges; exact).

    Only for vocabularies assembled here without a base: specials, bytes, merges, then added
    tokens, which are kept (renumbered after the shorter merge list).
    """
    n_special = sum(1 for t in v.added if t.in_model and t.special)
    model_end = n_special + 256 + len(v.merges)
    tail = [t for t in v.added if t.id >= model_end and not t.content.startswith("<|pad_")]
    keep = size - n_special - 256 - len(tail)
    if keep < 0 or keep > len(v.merges):
        raise TokkitError(f"snapshot size {size} is outside {n_special + 256 + len(tail)}..{v.size}")
    learned = [(v.tokens[a], v.tokens[b], c) for (a, b, _), c in zip(v.merges[:keep], v.meta["merge_counts"])]
    specials = [v.tokens[i].decode() for i in range(n_special)]
    out = assemble(learned, v.pretokenizer, specials, [t.content for t in tail], v.normalizer,
                   meta={k: x for k, x in v.meta.items() if k != "merge_counts"})
    out.meta["snapshot_of"] = v.size
    return out
