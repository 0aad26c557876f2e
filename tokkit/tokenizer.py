"""``Tokenizer`` = a :class:`~tokkit.vocab.Vocabulary` + an encoder.

BPE vocabularies encode with tokkit's native encoder (Rust, parallel batches, the GIL released),
which gives the same ids as Hugging Face ``tokenizers`` on tokkit's own tokenizer.json. What the
native core does not cover yet (WordPiece, Unigram, SentencePiece's precompiled normalizer...)
encodes with HF ``tokenizers`` built in memory from that same tokenizer.json. Decoding uses HF's
decoders either way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import TokkitError
from .vocab import Vocabulary, read_vocab, write_vocab


class Tokenizer:
    def __init__(self, vocab: Vocabulary, native: bool = True):
        self.vocab = vocab
        self._backend = None
        self._native = None
        self.native_unsupported: str | None = None  # why the HF fallback is used, if it is
        if native:
            from .encoder import native_encoder
            from .errors import UnsupportedError

            try:
                self._native = native_encoder(vocab)
            except UnsupportedError as e:
                self.native_unsupported = str(e)
        else:
            self.native_unsupported = "disabled"
        self._prefix, self._suffix = vocab.special_affixes()
        self._lens: np.ndarray | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kw) -> "Tokenizer":
        return cls(read_vocab(path, **kw))

    def _hf(self):
        if self._backend is None:
            from tokenizers import Tokenizer as HFTokenizer

            from .vocab.hf import vocab_to_hf_json

            backend = HFTokenizer.from_str(json.dumps(vocab_to_hf_json(self.vocab)))
            # a file's padding/truncation settings are kept when writing it back, but encode()
            # returns the tokenization of the whole text, unpadded
            backend.no_padding()
            backend.no_truncation()
            self._backend = backend
        return self._backend

    # -- encoding -------------------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = False) -> np.ndarray:
        """Token ids of ``text`` (uint32). Special-token text in ``text`` maps to its id;
        ``add_special_tokens`` adds BOS/EOS as the tokenizer's post-processor says."""
        if self._native is None:
            return np.asarray(self._hf().encode(text, add_special_tokens=add_special_tokens).ids, dtype=np.uint32)
        from .encoder import ids_from_bytes

        ids = ids_from_bytes(self._native.encode(text))
        if add_special_tokens and (self._prefix or self._suffix):
            ids = np.concatenate([np.asarray(self._prefix, np.uint32), ids, np.asarray(self._suffix, np.uint32)])
        return ids

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[np.ndarray]:
        """Encode many texts in parallel; one uint32 array per text."""
        ids, lengths = self.encode_batch_flat(texts, add_special_tokens=add_special_tokens)
        return np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []

    def encode_batch_flat(self, texts: Sequence[str], add_special_tokens: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Encode many texts in parallel: (all ids concatenated, one length per text), uint32."""
        if self._native is None or (add_special_tokens and (self._prefix or self._suffix)):
            if self._native is None:
                arrays = [np.asarray(e.ids, dtype=np.uint32) for e in
                          self._hf().encode_batch(list(texts), add_special_tokens=add_special_tokens)]
            else:
                arrays = [self.encode(t, add_special_tokens=True) for t in texts]
            lengths = np.asarray([len(a) for a in arrays], dtype=np.uint32)
            return (np.concatenate(arrays) if arrays else np.zeros(0, np.uint32)), lengths
        from .encoder import ids_from_bytes

        flat, lengths = self._native.encode_batch(list(texts))
        return ids_from_bytes(flat), ids_from_bytes(lengths)

    def encode_with_offsets(self, text: str, add_special_tokens: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(ids, offsets): offsets is an (n, 2) int array of character spans in ``text``."""
        e = self._hf().encode(text, add_special_tokens=add_special_tokens)
        offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
        return np.asarray(e.ids, dtype=np.uint32), offs

    def token_lengths(self) -> np.ndarray:
        """Bytes each id spells (int64), for offsets and byte counts without Python loops."""
        if getattr(self, "_lens", None) is None:
            self._lens = np.fromiter((len(t) for t in self.vocab.tokens), dtype=np.int64, count=self.vocab.size)
        return self._lens

    def encode_batch_byte_offsets(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode many texts in parallel with UTF-8 byte offsets: (ids, ends, lengths).

        ``ends[k]`` is the byte offset in its text where token k ends (its start is the previous
        end, or 0 for a text's first token): flat arrays, one ``lengths`` entry per text.
        Exact when the tokens spell the text's bytes (byte-level BPE without a normalizer:
        GPT-2, Llama-3, Qwen2, cl100k, SmolLM2, tokkit's trainers); otherwise, or if a text
        does not round-trip, the offsets come from HF's character offsets converted to bytes.
        """
        ids, lengths = self.encode_batch_flat(texts)
        lens = self.token_lengths()[ids]
        bounds = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        csum = np.cumsum(lens)
        base = np.repeat(np.concatenate([[0], csum])[bounds[:-1]], lengths)
        ends = csum - base
        for k, t in enumerate(texts):
            a, b = bounds[k], bounds[k + 1]
            nb = len(t.encode("utf-8", "surrogatepass"))
            if (ends[b - 1] if b > a else 0) != nb or self.decode_bytes(ids[a:b]) != t.encode("utf-8", "surrogatepass"):
                _, offs = self.encode_with_offsets(t)
                char_to_byte = np.concatenate([[0], np.cumsum([len(c.encode("utf-8", "surrogatepass")) for c in t])])
                ends[a:b] = char_to_byte[offs[:, 1]] if len(offs) == b - a else 0
        return ids, ends, lengths

    def decode(self, ids: Sequence[int] | np.ndarray, skip_special_tokens: bool = False) -> str:
        return self._hf().decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def decode_bytes(self, ids: Sequence[int] | np.ndarray) -> bytes:
        """The exact bytes the ids spell (no normalizer undone, no UTF-8 repair)."""
        toks = self.vocab.tokens
        return b"".join(toks[int(i)] for i in ids)

    # -- output ---------------------------------------------------------------------------------
    def save(self, out: str | os.PathLike, format: str = "hf") -> list[Path]:
        return write_vocab(self.vocab, out, format=format)

    def __len__(self) -> int:
        return self.vocab.size

    def __repr__(self) -> str:
        src = self.vocab.meta.get("source", "memory")
        return f"Tokenizer({self.vocab.model.value}, {self.vocab.size} tokens, from {src})"


def load(path: str | os.PathLike, **kw) -> Tokenizer:
    """Load any tokenizer tokkit reads: an HF directory or tokenizer.json, a SentencePiece
    ``.model``, a GGUF file, a tiktoken rank file or ``tiktoken:NAME``."""
    if path is None:
        raise TokkitError("no tokenizer path given")
    return Tokenizer.from_file(path, **kw)
