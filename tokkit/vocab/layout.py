"""Which ids the BPE/WordPiece *model* owns in a written ``tokenizer.json``, and the string each
id has there.

Hugging Face splits a vocabulary into the model's own keys and the added tokens around it, with
rules that decide ids (an added token outside the model vocab is renumbered after it) and what
the model does with unknown symbols. The HF writer (:mod:`.hf`) and the native engine
(:mod:`tokkit.encoder`) must see the same split, so both read it from here.
"""

from __future__ import annotations

from .model import TokenType, Vocabulary
from .surface import bytes_to_strings


def model_unk_id(v: Vocabulary) -> int | None:
    """The unk the model itself emits for a symbol it lacks, or None (the symbol is dropped).

    An unk that is only an added special token (SmolLM2's <|endoftext|>, from GGUF) is not the
    model's: the original drops unknown bytes. (HF also raises when a BPE unk_token is not a key
    of the model vocab.)
    """
    unk = v.options.unk_id
    if unk is None:
        return None
    a = v.added_by_id().get(unk)
    return unk if a is None or a.in_model else None


def added_outside_model(v: Vocabulary, model_ids: set[int]) -> set[int]:
    """Added tokens that can stay out of the model's vocab in tokenizer.json.

    HF gives an added token that is not a key of the model vocab the next id after it (model
    size, model size + 1, ... in order), whatever id the file says. So only a run of added
    tokens at the very end of the id range, above every model id and with no gap, may stay
    outside (Llama-3's specials); any other (SmolLM2's specials at ids 0-16) must be in the
    model vocab or stock HF would renumber it.
    """
    added = v.added_by_id()
    outside: set[int] = set()
    i = v.size - 1
    while i >= 0 and i in added and not added[i].in_model:
        outside.add(i)
        i -= 1
    below = {j for j in range(i + 1) if j in model_ids or j in added}
    if len(below) != i + 1:  # a gap (unused id) would shift HF's numbering: keep all inside
        return set()
    return outside


def plain_ids(v: Vocabulary) -> list[int]:
    """Ids of the model's ordinary tokens: not added, NORMAL or BYTE."""
    added = v.added_by_id()
    return [i for i, t in enumerate(v.types) if i not in added and t in (TokenType.NORMAL, TokenType.BYTE)]


def model_strings(v: Vocabulary) -> dict[int, str]:
    """id -> the string of a key of the model's vocab in tokenizer.json (as the HF writer spells
    it: the surface's spelling of ordinary tokens, an in-model added token's content, unknown,
    control and user-defined tokens as text)."""
    added = v.added_by_id()
    plain = plain_ids(v)
    out = dict(zip(plain, bytes_to_strings([v.tokens[i] for i in plain], [v.types[i] for i in plain], v.surface)))
    outside = added_outside_model(v, set(plain))
    for i, t in enumerate(v.types):
        if i in added:
            if i not in outside:
                out[i] = added[i].content
        elif t in (TokenType.UNKNOWN, TokenType.CONTROL, TokenType.USER_DEFINED):
            out[i] = v.tokens[i].decode("utf-8", "replace")
    return out


def decode_strings(v: Vocabulary) -> list[str | None]:
    """The string Hugging Face's decoder sees for every id: an added token's content (HF keeps a
    normalized token's normalized content for decoding; the native decoder normalizes those,
    see :func:`normalized_added_ids`), else the model's string; None for an id HF does not know
    (it drops it when decoding)."""
    strings: list[str | None] = [None] * v.size
    for i, s in model_strings(v).items():
        strings[i] = s
    for a in v.added:
        if 0 <= a.id < v.size:
            strings[a.id] = a.content
    return strings


def normalized_added_ids(v: Vocabulary) -> list[int]:
    """Added tokens whose decoding string HF normalizes (normalized tokens, when there is a
    normalizer)."""
    if not v.normalizer:
        return []
    return [a.id for a in v.added if a.normalized and a.content and 0 <= a.id < v.size]
