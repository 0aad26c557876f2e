"""Source and language weights for training: upweighting counts or upsampling documents.

A run's corpus sources fall into **groups**: a language when the corpus metadata names one
(``corpus:gnome-help:de``, ``corpus:udhr:tur``; ``corpus:NAME:*`` is every language of a
multilingual corpus), else the source itself (a file, a glob's shards together, a
single-language corpus). Each group g has n_g bytes of text. The weight of a group is

    w_g = s_g * (p_g / q_g),   q_g = n_g / N,   p_g = n_g^(1/T) / sum_h n_h^(1/T)

where ``s_g`` is the user's weight for the source (``corpus:udhr=0.5`` on the command line,
``--weights FILE``; default 1) and T the language temperature (``--temperature``; none: p = q,
proportional). T = 1 is proportional, larger T flattens the language distribution towards
uniform ("Upsample or Upweight?", Conneau et al.'s XLM-R sampling with alpha = 1/T).

Weights are normalised so the smallest is 1 (no group loses text), then applied one of two ways:

- ``counts`` (upweighting, the default): each group is counted apart and the counts are summed
  as round(w_g * count); the expected counts of upsampling, without its sampling noise, from
  one pass over the text. Count tables made with ``tokkit count --by-source`` keep the groups'
  counts apart, so other weights train without counting again.
- ``sample`` (upsampling): every document of group g is counted floor(w_g) times plus once more
  with probability frac(w_g), drawn from a generator seeded with the run's seed: the classic
  repeated-data recipe (documents, not pretokens, are the unit). The group sizes come from a
  first pass over the text.

Nothing here imports the trainer; :mod:`tokkit.train.run` calls these functions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import TokkitError

if TYPE_CHECKING:
    from ..counts import CountTable

MODES = ("counts", "sample")
#: most any group's weight may be relative to the smallest (a guard against 1e9 * counts)
MAX_WEIGHT_RATIO = 1e6


@dataclass(frozen=True)
class Group:
    """One weighting group: its key (a language tag, or the source spec) and its text bytes."""

    key: str
    lang: str | None
    text_bytes: int


def parse_weighted_spec(spec: str) -> tuple[str, float | None]:
    """``corpus:udhr=0.5`` -> (``corpus:udhr``, 0.5); a spec without ``=NUMBER`` -> (spec, None).
    A path that really contains ``=`` followed by a number needs ``--weights`` instead."""
    head, sep, tail = spec.rpartition("=")
    if not sep or not head:
        return spec, None
    try:
        w = float(tail)
    except ValueError:
        return spec, None
    check_weight(spec, w)
    return head, w


def check_weight(where: str, w: float) -> float:
    if not (isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w > 0):
        raise TokkitError(f"{where}: a weight must be a positive finite number, not {w!r}")
    return float(w)


def read_weights(path: str | os.PathLike) -> dict[str, float]:
    """``--weights FILE``: a JSON, TOML or YAML mapping of source spec or language -> weight."""
    from ..textio import read_text

    path = Path(path)
    text = read_text(path, max_bytes=1 << 20)
    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            import json

            data = json.loads(text)
    except Exception as e:  # a parse error of any of the three formats
        raise TokkitError(f"{path}: not a valid weights file ({type(e).__name__}: {str(e).splitlines()[0][:120]})") \
            from None
    if not isinstance(data, dict) or not data:
        raise TokkitError(f"{path}: a weights file is a non-empty mapping of source (or language) -> weight")
    return {str(k): check_weight(f"{path}: {k}", v) for k, v in data.items()}


def group_weights(groups: Sequence[Group], source_weights: Mapping[str, float] | None = None,
                  temperature: float | None = None) -> dict[str, float]:
    """{group key: weight} as in the module docstring, the smallest weight 1."""
    if not groups:
        raise TokkitError("no corpus groups to weight")
    if temperature is not None and not (math.isfinite(temperature) and temperature > 0):
        raise TokkitError(f"temperature: a positive number, not {temperature!r}")
    empty = [g.key for g in groups if g.text_bytes <= 0]
    if empty:
        raise TokkitError(f"no text in {', '.join(empty[:5])}: a weight needs text to apply to")
    n = np.array([g.text_bytes for g in groups], dtype=float)
    q = n / n.sum()
    if temperature is None or temperature == 1:
        ratio = np.ones_like(n)
    else:
        # p_g / q_g in logs: n^(1/T) overflows nothing, but tiny shares lose precision otherwise
        logp = np.log(n) / temperature
        logp -= np.logaddexp.reduce(logp)
        ratio = np.exp(logp - np.log(q))
    s = np.array([(source_weights or {}).get(g.key, 1.0) for g in groups], dtype=float)
    w = s * ratio
    w /= w.min()
    if w.max() > MAX_WEIGHT_RATIO:
        raise TokkitError(f"the weights span more than {MAX_WEIGHT_RATIO:g}x (largest: {groups[int(w.argmax())].key}); "
                          "give a smaller temperature or weight")
    return {g.key: float(x) for g, x in zip(groups, w)}


def weighted_counts(counts: np.ndarray, weight: float) -> np.ndarray:
    """round(weight * counts) as uint64 (weights are >= 1 after normalisation: no count vanishes)."""
    out = np.rint(np.asarray(counts, dtype=np.float64) * weight)
    if out.size and out.max() >= 2.0 ** 63:
        raise TokkitError(f"weighted counts overflow 64 bits (weight {weight:g})")
    return out.astype(np.uint64)


def repeats(rng: np.random.Generator, weight: float, n: int) -> np.ndarray:
    """How many times each of ``n`` documents is counted under upsampling with ``weight``."""
    whole = math.floor(weight)
    return whole + (rng.random(n) < weight - whole).astype(np.int64)


def describe(groups: Sequence[Group], weights: Mapping[str, float]) -> list[dict]:
    """The manifest's record of the weighting: per group, its bytes, natural and weighted share."""
    n = sum(g.text_bytes for g in groups)
    wn = sum(g.text_bytes * weights[g.key] for g in groups)
    return [{"group": g.key, "lang": g.lang, "text_bytes": g.text_bytes, "weight": round(weights[g.key], 6),
             "share": round(g.text_bytes / n, 6), "weighted_share": round(g.text_bytes * weights[g.key] / wn, 6)}
            for g in groups]


# --- counts kept per group: weights change without counting again ------------------------------

@dataclass
class GroupedCounts:
    """Count tables per weighting group (same pretokenizer), saved as one Parquet table with a
    ``group`` column (``tokkit count --by-source``); :meth:`combine` applies weights."""

    groups: list[Group]
    tables: dict  # group key -> CountTable (unweighted)
    pretokenizer: list[dict]
    meta: dict

    def combine(self, weights: Mapping[str, float] | None = None, mode: str = "counts",
                temperature: float | None = None) -> "CountTable":
        """One count table: sum of round(w_g * count_g) (every weight 1 without ``weights``)."""
        import json

        from .. import _native
        from ..counts import _from_counter

        weights = weights or {g.key: 1.0 for g in self.groups}
        counter = _native.Counter(json.dumps(self.pretokenizer))
        for g in self.groups:
            t = self.tables[g.key]
            counter.add_counts(t.pieces, weighted_counts(t.counts, weights[g.key]).tolist())
        meta = dict(self.meta)
        meta["weighting"] = {"mode": mode, "temperature": temperature, "groups": describe(self.groups, weights)}
        return _from_counter(counter, self.pretokenizer, meta)

    def save(self, path: str | os.PathLike) -> Path:
        """Parquet: ``piece`` binary, ``count`` uint64, ``group`` int32 (index into the groups
        listed in the metadata, with their languages and bytes of text)."""
        import pyarrow as pa

        from ..counts import write_table

        pieces, counts, group = [], [], []
        for i, g in enumerate(self.groups):
            t = self.tables[g.key]
            pieces += t.pieces
            counts.append(np.asarray(t.counts, dtype=np.uint64))
            group.append(np.full(len(t), i, dtype=np.int32))
        table = pa.table({"piece": pa.array(pieces, type=pa.binary()),
                          "count": pa.array(np.concatenate(counts) if counts else [], type=pa.uint64()),
                          "group": pa.array(np.concatenate(group) if group else [], type=pa.int32())})
        return write_table(table, self.pretokenizer, dict(self.meta, groups=[g.__dict__ for g in self.groups]), path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "GroupedCounts":
        """Read :meth:`save`'s table; wrong columns, group indices or metadata name the file."""
        import pyarrow.parquet as pq

        from ..counts import CountTable, _count_column, _piece_column, _table_metadata
        from ..errors import FormatError
        from ..textio import regular_file

        path = regular_file(path)
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises ArrowInvalid and friends on damage
            raise FormatError(path, f"not a Parquet count table ({type(e).__name__})") from None
        if table.column_names != ["piece", "count", "group"]:
            raise FormatError(path, "not a count table by source (columns piece, count, group)")
        pretok, meta = _table_metadata(path, table.schema.metadata or {})
        groups = _groups_of(path, meta)
        pieces = _piece_column(path, table.column("piece"))
        counts = _count_column(path, table.column("count"))
        gidx = table.column("group").to_numpy()
        if len(gidx) and (gidx.min() < 0 or gidx.max() >= len(groups)):
            raise FormatError(path, f"column 'group' refers to a group outside the {len(groups)} listed")
        tables = {}
        for i, g in enumerate(groups):
            rows = np.flatnonzero(gidx == i)
            tables[g.key] = CountTable([pieces[r] for r in rows], counts[rows], pretok, {}, path)
        return cls(groups, tables, pretok, {k: v for k, v in meta.items() if k != "groups"})


def _groups_of(path: Path, meta: dict) -> list[Group]:
    from ..errors import FormatError

    raw = meta.get("groups")
    ok = isinstance(raw, list) and raw and all(
        isinstance(g, dict) and isinstance(g.get("key"), str) and isinstance(g.get("text_bytes"), int)
        and (g.get("lang") is None or isinstance(g.get("lang"), str)) for g in raw)
    if not ok:
        raise FormatError(path, "count table by source: metadata 'groups' must list {key, lang, text_bytes}")
    keys = [g["key"] for g in raw]
    if len(set(keys)) != len(keys):
        raise FormatError(path, "count table by source: a group is listed twice")
    return [Group(g["key"], g.get("lang"), g["text_bytes"]) for g in raw]
