"""The typed step base class, the registry of step kinds, and the unknown-step fallback.

A pipeline step is one Hugging Face ``tokenizers`` component (a normalizer, a pretokenizer, a
decoder or a post-processor) as a frozen dataclass whose fields are named as Hugging Face names
them. Each registered class says, at class level, its snake_case ``kind`` (what the native core
reads), its ``hf_type`` (the ``"type"`` in ``tokenizer.json``) and its :class:`Family`.

Two views of a step stay exactly what they were when a step was ``kind`` plus a dict:

- ``step.kind`` and ``step.params``: the HF-named parameters as a dict, with a pattern flattened
  to ``"regex"`` or ``"string"``; ``[{"kind": s.kind, "params": s.params}]`` is the JSON the
  native core parses;
- equality: two steps are equal when their ``kind`` and ``params`` are, so a step read from a
  file equals the same step built by a constructor (whichever family's class either is: HF's
  ``ByteLevel``, ``Replace`` and ``Metaspace`` are one struct in several slots).

A step read from a file remembers which parameters the file had and in what order, and any
parameter tokkit does not know yet, so writing it back gives the same JSON. A step built in
Python has every field (less ``optional`` ones left at None). ``Step(kind, params)`` still
works: it is :meth:`Step.of`, which picks the registered class. A Hugging Face type tokkit does
not know is an :class:`UnknownStep` with ``kind == "hf:<Type>"``, kept verbatim.

Adding a step kind: one class decorated with :func:`register` in its family's module (and its
variant in the native core's enum, for a step the native encoder runs).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Callable, ClassVar, Mapping

from ...errors import FormatError, UnsupportedError


class Family(str, enum.Enum):
    """Which pipeline slot a step kind belongs to; values are the ``tokenizer.json`` keys."""

    NORMALIZER = "normalizer"
    PRE_TOKENIZER = "pre_tokenizer"
    DECODER = "decoder"
    POST_PROCESSOR = "post_processor"

    @property
    def sequence_key(self) -> str:
        """The list key of a Hugging Face ``Sequence`` of this family."""
        return _SEQUENCE_KEYS[self]


_SEQUENCE_KEYS = {Family.NORMALIZER: "normalizers", Family.PRE_TOKENIZER: "pretokenizers",
                  Family.DECODER: "decoders", Family.POST_PROCESSOR: "processors"}
#: where ``Step(kind, params)`` looks first for a kind several families share
_RESOLUTION_ORDER = (Family.PRE_TOKENIZER, Family.NORMALIZER, Family.DECODER, Family.POST_PROCESSOR)


class StepError(FormatError):
    """A step's parameters are not what its kind takes. The reader that parsed the step raises
    it again as a :class:`FormatError` naming the file."""

    def __init__(self, problem: str):
        super().__init__(None, problem)


class Regex(str):
    """A pattern that is a regular expression (as ``tokenizers.Regex``); a plain ``str`` pattern
    is a literal string. In ``params`` the pattern is ``{"regex": ...}`` or ``{"string": ...}``,
    in ``tokenizer.json`` ``{"Regex": ...}`` or ``{"String": ...}``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Regex({str.__repr__(self)})"


class _StepMeta(type):
    """``Step(kind, params)`` (on the base class only) is :meth:`Step.of`."""

    def __call__(cls, /, *args: Any, **kwargs: Any) -> Any:
        if cls is Step:
            return Step.of(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Step(metaclass=_StepMeta):
    """One normalizer / pretokenizer / decoder / post-processor step (see the module doc)."""

    kind: ClassVar[str]
    hf_type: ClassVar[str]
    family: ClassVar[Family | None] = None
    #: fields left out of ``params`` while None (legacy parameters such as Metaspace's
    #: ``add_prefix_space``), unless a file had them
    optional: ClassVar[frozenset[str]] = frozenset()
    #: per registered class: field name -> (check, what it must be); filled by :func:`register`
    _checks: ClassVar[dict[str, tuple[Callable[[Any], bool], str]]] = {}

    # -- construction ---------------------------------------------------------------------------
    def __post_init__(self) -> None:
        for name, (ok, what) in self._checks.items():
            value = getattr(self, name)
            if not ok(value):
                raise StepError(f"{self.hf_type}: {name} is {_snippet(value)}, not {what}")
        self._validate()
        object.__setattr__(self, "_keys", None)
        object.__setattr__(self, "_extra", {})

    def _validate(self) -> None:
        """Checks beyond the field types (a value from a fixed set...); raise StepError."""

    @staticmethod
    def of(kind: str, params: Mapping[str, Any] | None = None, family: Family | str | None = None) -> "Step":
        """The typed step for ``kind`` and its ``params`` dict (the form ``step.params`` has).

        ``hf:<Type>`` gives an :class:`UnknownStep`. A kind several families share (byte_level,
        replace, metaspace, strip) takes ``family``'s class, else the first whose fields take
        ``params``. StepError for parameters of the wrong type, UnsupportedError for a kind
        that is not registered.
        """
        params = dict(params or {})
        if kind.startswith("hf:"):
            return UnknownStep(kind[3:], params)
        cls = step_class(kind, family, params)
        if cls is None:
            raise UnsupportedError(f"unknown step kind {kind!r} (known: {', '.join(sorted(known_kinds()))}; "
                                   "a Hugging Face type tokkit does not know is 'hf:<Type>')")
        return cls.from_params(params)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "Step":
        """This class's step from a ``params`` dict, remembering its keys and their order."""
        names = _field_names(cls)
        kw: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        keys: list[str] = []
        pattern_key = ("regex" if "regex" in params else "string" if "string" in params else None) \
            if "pattern" in names else None
        for k, v in params.items():
            if pattern_key is not None and k == pattern_key:
                if not isinstance(v, str):
                    raise StepError(f"{cls.hf_type}: the pattern is {_snippet(v)}, not a string")
                kw["pattern"] = Regex(v) if k == "regex" else v
                keys.append("pattern")
            elif k in names and k != "pattern":
                kw[k] = v
                keys.append(k)
            elif k == "pattern":
                raise StepError(f"the {cls.hf_type} pattern is {_snippet(v)}, not "
                                '{"String": ...} or {"Regex": ...}')
            else:
                extra[k] = v
                keys.append(k)
        missing = [n for n in names if n not in kw and _required(cls, n)]
        if missing:
            raise StepError(f"{cls.hf_type} has no {' and no '.join(missing)}")
        step = cls(**kw)
        object.__setattr__(step, "_keys", tuple(keys))
        object.__setattr__(step, "_extra", extra)
        return step

    @classmethod
    def from_hf(cls, obj: Mapping[str, Any]) -> "Step":
        """This class's step from its ``tokenizer.json`` object (``"type"`` already checked).
        A pattern object becomes the ``regex``/``string`` parameter, placed last."""
        params = {k: v for k, v in obj.items() if k != "type"}
        if "pattern" in _field_names(cls) and isinstance(params.get("pattern"), dict):
            pat = params.pop("pattern")
            if "Regex" in pat:
                params["regex"] = pat["Regex"]
            else:
                params["string"] = pat.get("String", "")
            if not isinstance(params.get("regex", params.get("string")), str):
                raise StepError(f"the {cls.hf_type} pattern is not a string")
        return cls.from_params(params)

    # -- the views every consumer reads -----------------------------------------------------------
    @property
    def params(self) -> dict[str, Any]:
        """The HF-named parameters (a fresh dict; the pattern as ``regex`` or ``string``)."""
        out: dict[str, Any] = {}
        for k in self._present():
            if k == "pattern":
                p = self.pattern  # type: ignore[attr-defined]
                out["regex" if isinstance(p, Regex) else "string"] = str(p)
            elif k in self._extra:
                out[k] = self._extra[k]
            else:
                out[k] = getattr(self, k)
        return out

    def _present(self) -> tuple[str, ...]:
        if self._keys is not None:
            return self._keys
        return tuple(n for n in _field_names(type(self)) if not (n in self.optional and getattr(self, n) is None))

    def has(self, name: str) -> bool:
        """Whether parameter ``name`` is set (a file may leave one out; it then takes the
        field's default here and stays out when written back)."""
        return name in self._present()

    def replace(self, **changes: Any) -> "Step":
        """A copy with some fields changed (``dataclasses.replace`` that keeps the parameters a
        file had, their order and unknown ones; a changed field the file left out is added)."""
        new = dataclasses.replace(self, **changes)  # type: ignore[type-var]
        present = self._present()
        object.__setattr__(new, "_keys", present + tuple(k for k in changes if k not in present))
        object.__setattr__(new, "_extra", dict(self._extra))
        return new

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def to_hf(self) -> dict[str, Any]:
        """The ``tokenizer.json`` object (a pattern first, as Hugging Face writes it)."""
        params = self.params
        if "pattern" in _field_names(type(self)):
            if "regex" in params:
                params = {"pattern": {"Regex": params.pop("regex")}, **params}
            elif "string" in params:
                params = {"pattern": {"String": params.pop("string")}, **params}
        return {"type": self.hf_type, **params}

    def to_native(self) -> dict[str, Any]:
        """The step as the native core reads it: ``{"kind": ..., "params": {...}}``."""
        return {"kind": self.kind, "params": self.params}

    def describe(self) -> str:
        """One line for ``tokkit inspect``."""
        p = self.params
        if p:
            short = ", ".join(f"{k}={v!r}" for k, v in p.items() if not isinstance(v, (list, dict)))
            return f"{self.kind}({short})"
        return self.kind

    # -- value semantics ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return self.kind == other.kind and self.params == other.params

    def __hash__(self) -> int:
        return hash((self.kind, json.dumps(self.params, sort_keys=True, default=str)))


class UnknownStep(Step):
    """A Hugging Face component tokkit does not know: kept verbatim, ``kind == "hf:<Type>"``."""

    family = None

    def __init__(self, hf_type: str, params: Mapping[str, Any] | None = None):
        object.__setattr__(self, "hf_type", hf_type)
        object.__setattr__(self, "_params", dict(params or {}))

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    @property
    def kind(self) -> str:  # type: ignore[override]
        return f"hf:{self.hf_type}"

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def _present(self) -> tuple[str, ...]:
        return tuple(self._params)

    def to_hf(self) -> dict[str, Any]:
        return {"type": self.hf_type, **self._params}

    def __repr__(self) -> str:
        return f"UnknownStep(hf_type={self.hf_type!r}, params={self._params!r})"


# -- the registry --------------------------------------------------------------------------------
_BY_HF: dict[tuple[Family, str], type[Step]] = {}
_BY_KIND: dict[tuple[Family, str], type[Step]] = {}

S = typing.TypeVar("S", bound=type)


@typing.dataclass_transform(eq_default=False, frozen_default=True)
def register(cls: S) -> S:
    """Class decorator for a step kind: makes it a frozen dataclass (equality stays
    :class:`Step`'s, by ``kind`` and ``params``) and puts it in the registry."""
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    fam = Family(cls.family)
    for table, key in ((_BY_HF, (fam, cls.hf_type)), (_BY_KIND, (fam, cls.kind))):
        if key in table and table[key] is not cls:
            raise TypeError(f"{cls.__name__}: {key} is already {table[key].__name__}")
        table[key] = cls
    hints = typing.get_type_hints(cls)
    cls._checks = {f.name: _checker(hints[f.name]) for f in dataclasses.fields(cls)}
    return cls


def step_types(family: Family | str | None = None) -> list[type[Step]]:
    """Every registered step class (of one family), in registration order."""
    fam = None if family is None else Family(family)
    return [c for (f, _), c in _BY_HF.items() if fam is None or f == fam]


def known_kinds() -> set[str]:
    return {k for _, k in _BY_KIND}


def hf_class(hf_type: str, family: Family | str | None = None) -> type[Step] | None:
    """The class of a ``tokenizer.json`` type: ``family``'s first, else any family's (tokkit has
    always read a type by its name wherever it stands)."""
    if family is not None and (Family(family), hf_type) in _BY_HF:
        return _BY_HF[Family(family), hf_type]
    return next((_BY_HF[f, hf_type] for f in _RESOLUTION_ORDER if (f, hf_type) in _BY_HF), None)


def step_class(kind: str, family: Family | str | None = None,
               params: Mapping[str, Any] | None = None) -> type[Step] | None:
    """The class of a snake_case kind: ``family``'s, else the first (pretokenizer, normalizer,
    decoder, post-processor) whose fields take every key of ``params``, else the first."""
    if family is not None and (Family(family), kind) in _BY_KIND:
        return _BY_KIND[Family(family), kind]
    found = [_BY_KIND[f, kind] for f in _RESOLUTION_ORDER if (f, kind) in _BY_KIND]
    keys = set(params or ()) - {"regex", "string"}
    return next((c for c in found if keys <= set(_field_names(c))), found[0] if found else None)


def _field_names(cls: type) -> tuple[str, ...]:
    names = cls.__dict__.get("_names")
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        cls._names = names  # type: ignore[attr-defined]
    return names


def _required(cls: type, name: str) -> bool:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


# -- type checks ---------------------------------------------------------------------------------
def _checker(tp: Any) -> tuple[Callable[[Any], bool], str]:
    """(predicate, description) for a field annotation over JSON values."""
    if tp is Any:
        return (lambda x: True), "anything"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        parts = [_checker(a) for a in typing.get_args(tp)]
        return (lambda x: any(ok(x) for ok, _ in parts)), " or ".join(dict.fromkeys(w for _, w in parts))
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        return (lambda x: isinstance(x, str) and x in allowed), "one of " + ", ".join(map(repr, allowed))
    if tp is type(None):
        return (lambda x: x is None), "null"
    if tp is bool:
        return (lambda x: isinstance(x, bool)), "a boolean"
    if tp is int:
        return (lambda x: isinstance(x, int) and not isinstance(x, bool)), "an integer"
    if tp is str or tp is Regex:
        return (lambda x: isinstance(x, str)), "a string"
    if tp is list or origin is list:
        return (lambda x: isinstance(x, list)), "a list"
    if tp is dict or origin is dict:
        return (lambda x: isinstance(x, dict)), "an object"
    raise TypeError(f"no check for field type {tp!r}")


def _snippet(x: object) -> str:
    s = json.dumps(x, ensure_ascii=False, default=repr)
    return s if len(s) <= 40 else s[:37] + "..."

