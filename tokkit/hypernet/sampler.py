"""Random Unigram tokenizers for hypernetwork training (ZeTT's tokenizer sampler, small scale).

Each training batch gets a fresh tokenizer made from the text around it: the text is split into
words by the base tokenizer's pretokenizer, every substring of a word up to ``max_token_bytes``
is counted (weighted by the word's count), and the vocabulary is the ``vocab_size`` substrings
with the highest noisy log-frequency (Gumbel noise of scale ``noise``), plus all 256 bytes so
every text stays encodable. The Unigram scores are the log relative frequencies. The tokenizer
is a stock ``tokenizers`` Unigram over byte-level pieces (ByteLevel pretokenizer), so encoding
is Hugging Face's own Viterbi.

Sampling runs in well under a second for a few hundred KB of text; it is plain Python/numpy over
a Counter because the work is dominated by the substring enumeration of a small batch.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import _native


@dataclass
class SampledTokenizer:
    tokens: list[bytes]  # id -> bytes (ids 0..255 are the single bytes in byte order)
    backend: object  # tokenizers.Tokenizer

    def encode_batch(self, texts: Sequence[str], *, special: str = "text") -> list[list[int]]:
        """Ids of each text (a sampled tokenizer has no special tokens: every ``special`` policy
        reads text as text; the keyword matches :meth:`tokkit.Tokenizer.encode_batch`)."""
        return [e.ids for e in self.backend.encode_batch(list(texts), add_special_tokens=False)]


def sample_tokenizer(texts: Sequence[str], vocab_size: int, rng: np.random.Generator, pretokenizer=None,
                     max_token_bytes: int = 16, noise: float = 1.0) -> SampledTokenizer:
    from tokenizers import Tokenizer

    from ..vocab import spec

    pt = pretokenizer if pretokenizer is not None else spec.native_pretokenizer(spec.byte_level_preset("gpt2"))
    words = Counter(p for ps in pt.pieces_batch(list(texts)) for p in ps)
    sub: Counter[bytes] = Counter()
    for w, c in words.items():
        n = len(w)
        for i in range(n):
            for j in range(i + 2, min(n, i + max_token_bytes) + 1):
                sub[w[i:j]] += c
    singles = [bytes([b]) for b in range(256)]
    cands = list(sub)
    if cands:
        counts = np.fromiter((sub[c] for c in cands), dtype=np.float64, count=len(cands))
        keys = np.log(counts) + noise * rng.gumbel(size=len(cands))
        keep = np.argsort(-keys, kind="stable")[: max(0, vocab_size - 256)]
        chosen = [cands[i] for i in sorted(keep.tolist())]
        chosen_counts = counts[np.sort(keep)]
    else:
        chosen, chosen_counts = [], np.zeros(0)
    byte_counts = Counter()
    for w, c in words.items():
        for b in w:
            byte_counts[b] += c
    all_counts = np.concatenate([np.array([byte_counts[b] + 1 for b in range(256)], dtype=np.float64),
                                 chosen_counts])
    scores = np.log(all_counts / all_counts.sum())
    tokens = singles + chosen
    enc = _native.bytelevel_encode_many(tokens)
    model = {"type": "Unigram", "unk_id": None, "byte_fallback": False,
             "vocab": [[p, float(s)] for p, s in zip(enc, scores)]}
    tj = {"version": "1.0", "added_tokens": [], "normalizer": None,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
          "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                                               "use_regex": True},
          "model": model}
    return SampledTokenizer(tokens=tokens, backend=Tokenizer.from_str(json.dumps(tj)))
