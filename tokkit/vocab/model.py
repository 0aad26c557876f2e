"""The vocabulary data model shared by every tokkit capability.

A :class:`Vocabulary` is engine-neutral: tokens are the raw **bytes** they spell (byte-level
``Ġ`` and SentencePiece ``▁`` are decoded to a space, ``<0x0A>`` byte-fallback pieces to the byte
0x0A), indexed by id. How those bytes are written as strings in a file format is the
vocabulary's :class:`Surface`. Merges are ranked pairs of ids with the id they produce. Special
and added tokens carry roles (bos, eos, chat markers...) and the Hugging Face matching flags.
The normalizer, pretokenizer, decoder and post-processor are declarative lists of
:class:`Step` (typed, one dataclass per kind in :mod:`tokkit.vocab.steps`; each has a
snake_case ``kind`` and HF-named ``params``), so a native encoder, the HF writer and the report
code can all read them without a particular library.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ..errors import FormatError
# a pipeline step is a typed object (tokkit.vocab.steps); re-exported here, where it always was
from .steps import Step


class ModelKind(str, enum.Enum):
    BPE = "bpe"
    UNIGRAM = "unigram"
    WORDPIECE = "wordpiece"


class TokenType(enum.IntEnum):
    """Per-token type; the numbers are SentencePiece's and GGUF's (so conversion is 1:1)."""

    NORMAL = 1
    UNKNOWN = 2
    CONTROL = 3  # special tokens: never produced from text by the model, skipped on decode
    USER_DEFINED = 4  # added tokens matched in text before the model runs
    UNUSED = 5  # a reserved id (no usable token)
    BYTE = 6  # byte-fallback piece <0xXX>: spells exactly one byte


class Surface(str, enum.Enum):
    """How a token's bytes are spelled as strings in tokenizer files."""

    BYTE_LEVEL = "byte_level"  # GPT-2 byte->unicode map (Ġ = space); tiktoken-derived vocabularies
    METASPACE = "metaspace"  # SentencePiece: ▁ = space, <0xXX> for BYTE tokens
    PLAIN = "plain"  # UTF-8 text as is (WordPiece, character vocabularies)


class Role(str, enum.Enum):
    """What a special token is for. A token may have several roles (GPT-2's <|endoftext|>)."""

    BOS = "bos"
    EOS = "eos"
    PAD = "pad"
    UNK = "unk"
    MASK = "mask"
    SEP = "sep"
    CLS = "cls"
    EOT = "eot"  # end of turn (chat)
    CHAT = "chat"  # chat template markers: <|im_start|>, [INST], <|start_header_id|> ...
    FIM = "fim"  # fill-in-the-middle markers
    TOOL = "tool"
    OTHER = "other"


#: roles that name at most one token in a vocabulary
UNIQUE_ROLES = (Role.BOS, Role.EOS, Role.PAD, Role.UNK, Role.MASK, Role.SEP, Role.CLS)


@dataclass(frozen=True)
class AddedToken:
    """A special or added token with its Hugging Face matching flags.

    ``special=True`` tokens are control tokens (skipped when decoding with
    ``skip_special_tokens``); ``special=False`` ones are ordinary added tokens (KL3M's whitespace
    runs, for example). ``in_model`` says whether the id is also a key of the model's own
    vocabulary in ``tokenizer.json`` (kept so a round trip writes the same file).
    """

    id: int
    content: str
    special: bool = True
    roles: frozenset[Role] = frozenset()
    lstrip: bool = False
    rstrip: bool = False
    single_word: bool = False
    normalized: bool = False
    in_model: bool = False

    def with_roles(self, *roles: Role) -> "AddedToken":
        return dataclasses.replace(self, roles=self.roles | frozenset(roles))


@dataclass
class ModelOptions:
    """Model-level switches (names follow Hugging Face's where they exist)."""

    unk_id: int | None = None
    byte_fallback: bool = False
    fuse_unk: bool = False
    ignore_merges: bool = False  # Llama-3: a pretoken that is a whole token is not merged
    continuing_subword_prefix: str | None = None  # WordPiece "##"
    end_of_word_suffix: str | None = None
    dropout: float | None = None  # BPE dropout as the file says: written back, not applied (encode(dropout=))
    max_input_chars_per_word: int | None = None  # WordPiece


@dataclass
class Vocabulary:
    """A tokenizer, as data.

    ``tokens[i]`` is the byte string of id ``i`` (for added tokens: their UTF-8 content).
    ``merges`` is the ranked BPE merge list as ``(left_id, right_id, result_id)``.
    """

    model: ModelKind
    tokens: list[bytes]
    types: list[TokenType]
    surface: Surface
    merges: list[tuple[int, int, int]] = field(default_factory=list)
    scores: list[float] | None = None
    added: list[AddedToken] = field(default_factory=list)
    options: ModelOptions = field(default_factory=ModelOptions)
    normalizer: list[Step] = field(default_factory=list)
    pretokenizer: list[Step] = field(default_factory=list)
    decoder: list[Step] = field(default_factory=list)
    post_processor: list[Step] = field(default_factory=list)
    #: free-form metadata carried between formats: chat_template, model_max_length,
    #: clean_up_tokenization_spaces, name, source path/format...
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index: dict[bytes, int] | None = None
        self.validate()

    # -- invariants ---------------------------------------------------------------------------
    def validate(self) -> None:
        n = len(self.tokens)
        src = self.meta.get("source")
        where = src if src else None
        if len(self.types) != n:
            raise FormatError(where, f"{len(self.types)} token types for {n} tokens")
        if self.scores is not None and len(self.scores) != n:
            raise FormatError(where, f"{len(self.scores)} scores for {n} tokens")
        if self.model == ModelKind.UNIGRAM and self.scores is None:
            raise FormatError(where, "a Unigram vocabulary needs a score per token")
        for a, b, r in self.merges:
            if not (0 <= a < n and 0 <= b < n and 0 <= r < n):
                raise FormatError(where, f"merge ({a}, {b}) -> {r} has an id outside 0..{n - 1}")
        seen_roles: dict[Role, int] = {}
        for t in self.added:
            if not 0 <= t.id < n:
                raise FormatError(where, f"added token {t.content!r} has id {t.id} outside 0..{n - 1}")
            for role in t.roles:
                if role in UNIQUE_ROLES:
                    if role in seen_roles and seen_roles[role] != t.id:
                        raise FormatError(
                            where,
                            f"role {role.value} given to two tokens "
                            f"({self.tokens[seen_roles[role]]!r} and {t.content!r})",
                        )
                    seen_roles[role] = t.id
        if self.options.unk_id is not None and not 0 <= self.options.unk_id < n:
            raise FormatError(where, f"unk id {self.options.unk_id} outside 0..{n - 1}")
        for step in self.post_processor:
            if step.kind == "template":
                _check_template(step, n, where)

    # -- sizes and lookups --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def size(self) -> int:
        return len(self.tokens)

    def index(self) -> dict[bytes, int]:
        """bytes -> id over the model's own tokens (NORMAL, UNKNOWN, USER_DEFINED in model).

        BYTE-fallback pieces and special tokens are left out, so ``▁`` and ``<0x20>`` (both a
        space) never collide. The first id wins if a byte string repeats.
        """
        if self._index is None:
            idx: dict[bytes, int] = {}
            for i, (b, t) in enumerate(zip(self.tokens, self.types)):
                if t in (TokenType.NORMAL, TokenType.UNKNOWN, TokenType.USER_DEFINED) and b not in idx:
                    idx[b] = i
            self._index = idx
        return self._index

    def token_id(self, token: bytes | str) -> int | None:
        if isinstance(token, str):
            token = token.encode("utf-8")
        return self.index().get(token)

    def added_by_id(self) -> dict[int, AddedToken]:
        return {t.id: t for t in self.added}

    def role_id(self, role: Role | str) -> int | None:
        role = Role(role)
        for t in self.added:
            if role in t.roles:
                return t.id
        if role == Role.UNK and self.options.unk_id is not None:
            return self.options.unk_id
        return None

    def role_token(self, role: Role | str) -> AddedToken | None:
        role = Role(role)
        for t in self.added:
            if role in t.roles:
                return t
        return None

    @property
    def bos_id(self) -> int | None:
        return self.role_id(Role.BOS)

    @property
    def eos_id(self) -> int | None:
        return self.role_id(Role.EOS)

    @property
    def pad_id(self) -> int | None:
        return self.role_id(Role.PAD)

    @property
    def unk_id(self) -> int | None:
        return self.role_id(Role.UNK)

    def special_affixes(self) -> tuple[list[int], list[int]]:
        """Ids the post-processor puts before and after a single sequence (BOS/EOS)."""
        for step in self.post_processor:
            if step.kind == "template":
                specials = step.get("special_tokens") or {}
                pre: list[int] = []
                post: list[int] = []
                seen_seq = False
                for item in step.get("single") or []:
                    if "Sequence" in item:
                        seen_seq = True
                    elif "SpecialToken" in item:
                        ids = specials.get(item["SpecialToken"]["id"], {}).get("ids", [])
                        (post if seen_seq else pre).extend(ids)
                return pre, post
        return [], []

    def add_bos(self) -> bool:
        """Whether encoding puts a special token (BOS) first (read from the post-processor)."""
        return bool(self.special_affixes()[0])

    def add_eos(self) -> bool:
        return bool(self.special_affixes()[1])

    # -- byte-level facts ---------------------------------------------------------------------
    def byte_coverage(self) -> int:
        """How many of the 256 single bytes are tokens (as a normal token or a byte piece)."""
        singles = {b[0] for b, t in zip(self.tokens, self.types)
                   if len(b) == 1 and t in (TokenType.NORMAL, TokenType.BYTE)}
        return len(singles)

    def copy(self, **changes: Any) -> "Vocabulary":
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields.update(changes)
        fields["tokens"] = list(fields["tokens"])
        fields["types"] = list(fields["types"])
        fields["merges"] = list(fields["merges"])
        fields["added"] = list(fields["added"])
        fields["meta"] = dict(fields["meta"])
        return Vocabulary(**fields)

    def digest(self) -> str:
        """A short content hash of what every id spells (tells one vocabulary from another)."""
        import hashlib

        h = hashlib.sha256()
        for t in self.tokens:
            h.update(len(t).to_bytes(4, "little") + t)
        return h.hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary (what ``tokkit inspect`` prints)."""
        from collections import Counter

        from .spec import describe_steps

        type_counts = Counter(t.name.lower() for t in self.types)
        lengths = [len(b) for b, t in zip(self.tokens, self.types) if t == TokenType.NORMAL]
        partial = sum(1 for b, t in zip(self.tokens, self.types) if t == TokenType.NORMAL and not _is_utf8(b))
        roles = {}
        for t in self.added:
            for r in sorted(t.roles, key=lambda r: r.value):
                roles.setdefault(r.value, []).append(t.content)
        return {
            "model": self.model.value,
            "size": self.size,
            "surface": self.surface.value,
            "merges": len(self.merges),
            "token_types": dict(sorted(type_counts.items())),
            "added_tokens": len(self.added),
            "special_tokens": sum(1 for t in self.added if t.special),
            "roles": roles,
            "add_bos": self.add_bos(),
            "add_eos": self.add_eos(),
            "byte_coverage": self.byte_coverage(),
            "byte_fallback": self.options.byte_fallback,
            "partial_utf8_tokens": partial,
            "max_token_bytes": max(lengths) if lengths else 0,
            "mean_token_bytes": round(sum(lengths) / len(lengths), 3) if lengths else 0.0,
            "normalizer": describe_steps(self.normalizer),
            "pretokenizer": describe_steps(self.pretokenizer),
            "decoder": describe_steps(self.decoder),
            "post_processor": describe_steps(self.post_processor),
            "chat_template": bool(self.meta.get("chat_template")),
        }


def _check_template(step: Step, n: int, where: str | None) -> None:
    """A TemplateProcessing post-processor: its items name a sequence or a special token, and
    each special token's ids are ids of this vocabulary."""
    specials = step.get("special_tokens") or {}
    if not isinstance(specials, dict) or not all(isinstance(x, dict) for x in specials.values()):
        raise FormatError(where, "post-processor: special_tokens is not an object of objects")
    for name, x in specials.items():
        ids = x.get("ids", [])
        if not isinstance(ids, list) or not all(_is_int(i) for i in ids):
            raise FormatError(where, f"post-processor: special token {name!r} has ids that are not integers")
        bad = next((i for i in ids if not 0 <= i < n), None)
        if bad is not None:
            raise FormatError(where, f"post-processor: special token {name!r} has id {bad} outside 0..{n - 1}")
    for key in ("single", "pair"):
        items = step.get(key) or []
        if not isinstance(items, list) or not all(_template_item_ok(x) for x in items):
            raise FormatError(where, f"post-processor: malformed {key!r} template")


def _template_item_ok(item: Any) -> bool:
    if not isinstance(item, dict) or len(item) != 1:
        return False
    kind, body = next(iter(item.items()))
    return kind in ("Sequence", "SpecialToken") and isinstance(body, dict) and isinstance(body.get("id"), str)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def merges_all_splits(
    tokens: Sequence[bytes],
    types: Sequence[TokenType],
    order: Iterable[int],
) -> list[tuple[int, int, int]]:
    """Ranked merges for a vocabulary that has token priorities but no merge list.

    tiktoken (rank = id) and SentencePiece BPE (higher score first) merge ANY adjacent pair whose
    concatenation is a token, by the priority of the result. A merge list reproduces that when it
    holds, for each result token in priority ``order``, every split of it into two tokens (sorted
    by the ids of the parts). Only NORMAL tokens take part (byte-fallback and special tokens are
    never merge results or parts).
    """
    index: dict[bytes, int] = {}
    for i, (b, t) in enumerate(zip(tokens, types)):
        if t == TokenType.NORMAL:
            index.setdefault(b, i)
    # only split points where both parts have the length of some token: a vocabulary has few
    # distinct lengths, so one very long token costs a few slices, not one per byte
    length_set = {len(b) for b in index} - {0}
    lengths = sorted(length_set)
    merges: list[tuple[int, int, int]] = []
    for r in order:
        tok = tokens[r]
        if len(tok) < 2 or types[r] != TokenType.NORMAL or index.get(tok) != r:
            continue
        local = []
        for j in lengths:
            if j >= len(tok):
                break
            if len(tok) - j not in length_set:
                continue
            a, b = index.get(tok[:j]), index.get(tok[j:])
            if a is not None and b is not None:
                local.append((a, b, r))
        local.sort()
        merges.extend(local)
    return merges
