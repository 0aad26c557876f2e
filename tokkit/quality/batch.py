"""All texts of a report as one batch: per-text sizes, the text set of each text, and the words
of every text (segmented once, shared by every tokenizer)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import TextSet
from .segment import Words, segment


@dataclass
class Batch:
    sets: list[TextSet]
    texts: list[str]
    text_bytes: list[bytes]
    nbytes: np.ndarray  # int64 per text
    nchars: np.ndarray
    set_of_text: np.ndarray  # int64 per text
    unit_of_text: np.ndarray  # int64: position of the text in its set (aligned unit)
    base: np.ndarray  # int64: global byte offset of each text
    words: Words  # text_index is global; type ids are global (set-specific types)
    set_of_type: np.ndarray
    segmentation_seconds: float = 0.0

    @property
    def n_sets(self) -> int:
        return len(self.sets)

    def per_set(self, values: np.ndarray, of_text: bool = True) -> np.ndarray:
        """Sum a per-text array over text sets."""
        return np.bincount(self.set_of_text, weights=values, minlength=self.n_sets)


def build_batch(sets: list[TextSet]) -> Batch:
    import time

    texts: list[str] = []
    set_of_text, unit = [], []
    for k, s in enumerate(sets):
        texts.extend(s.texts)
        set_of_text.append(np.full(len(s.texts), k, dtype=np.int64))
        unit.append(np.arange(len(s.texts), dtype=np.int64))
    text_bytes = [t.encode("utf-8", "surrogatepass") for t in texts]
    nbytes = np.fromiter((len(b) for b in text_bytes), dtype=np.int64, count=len(texts))
    nchars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    base = np.concatenate([[0], np.cumsum(nbytes)[:-1]]) if len(texts) else np.zeros(0, np.int64)
    t0 = time.perf_counter()
    starts, ends, tidx, tids, types, set_of_type = [], [], [], [], [], []
    first = 0
    for k, s in enumerate(sets):
        w, method = segment(s.texts, s.script, s.tag)
        s.segmentation = method
        starts.append(w.starts)
        ends.append(w.ends)
        tidx.append(w.text_index + first)
        tids.append(w.type_ids + len(types))
        set_of_type.append(np.full(len(w.types), k, dtype=np.int64))
        types.extend(w.types)
        first += len(s.texts)
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, np.int64)  # noqa: E731
    words = Words(cat(starts), cat(ends), cat(tidx), cat(tids), types)
    return Batch(sets, texts, text_bytes, nbytes, nchars, cat(set_of_text), cat(unit), base, words,
                 cat(set_of_type), time.perf_counter() - t0)
