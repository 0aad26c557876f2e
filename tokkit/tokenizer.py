"""``Tokenizer`` = a :class:`~tokkit.vocab.Vocabulary` + an engine: the one public way to
encode (ids, offsets, special-token policy) and decode.

The engine is tokkit's native core (Rust; parallel batches with the GIL released) for BPE
vocabularies: ids identical to Hugging Face ``tokenizers`` on tokkit's own tokenizer.json, byte
offsets computed while encoding (:class:`~tokkit.encoding.Encoding`), decoding with HF's decoder
semantics. What the native core does not cover (WordPiece and Unigram models, SentencePiece's
precompiled normalizer, a step kind it does not know) goes through :class:`HFAdapter`, the one
class that owns a Hugging Face tokenizer object, behind the same methods;
``Tokenizer.native_unsupported`` says why it is used.

Special-token text (``special=``): ``"allow"`` (the default, HF's behaviour) encodes the text of
an added token as its id; ``"text"`` treats the text of *special* added tokens as ordinary text
(tiktoken's ``encode_ordinary``; non-special added tokens, e.g. domain terms, still match);
``"raise"`` refuses text that contains a special token, naming it.

Subword regularisation (docs/train.md, "Subword regularisation"): ``dropout=p`` samples a
BPE-dropout segmentation in the native encoder (Hugging Face's semantics and distribution);
``alpha=`` (with ``nbest=``) samples a Unigram segmentation through sentencepiece. ``seed=`` makes a
sample reproducible: text k of a batch uses the stream of (seed, k), so a result never depends on
threads or on how texts are batched. Without these arguments encoding is canonical, whatever
``dropout`` the tokenizer file carries (it is kept for writing the file back).
"""

from __future__ import annotations

import json
import math
import operator
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .encoding import Encoding, char_byte_offsets
from .errors import TokkitError, UnsupportedError
from .vocab import ModelKind, Vocabulary, read_vocab, write_vocab

SPECIAL_POLICIES = ("allow", "text", "raise")
DECODE_ERRORS = ("replace", "strict")


def _u32_bytes(ids) -> bytes:
    """Ids as the native decoder takes them; IndexError for one that is not a u32."""
    from .encoder import ids_to_bytes

    try:
        return ids_to_bytes(ids)
    except ValueError as e:
        raise IndexError(str(e)) from None


def _special_error(e: ValueError, n_texts: int) -> TokkitError:
    """The native batch encoder's refusal of special-token text (``special="raise"``), worded as
    the single-text and HF paths word it when the batch is one text."""
    msg = str(e)
    return TokkitError(msg.replace("text 0 contains", "text contains", 1) if n_texts == 1 else msg)


def _check_special(special: str) -> str:
    if special not in SPECIAL_POLICIES:
        raise TokkitError(f"special={special!r} is not a special-token policy (use 'allow', 'text' or 'raise')")
    return special


def _texts(texts: str | Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    return list(texts)


@dataclass(frozen=True)
class Sampling:
    """A call's subword regularisation, checked: BPE-dropout (``dropout``) or Unigram sampling
    (``alpha``, ``nbest``), and the seed of text 0 (text k of a batch: the stream of (seed, k))."""

    seed: int
    dropout: float | None = None
    alpha: float | None = None
    nbest: int = -1


def _seed(seed) -> int:
    """A seed as the engines take it (u64); None: a fresh random one (a sample that cannot be
    repeated, as Hugging Face's dropout)."""
    if seed is None:
        return secrets.randbits(64)
    if isinstance(seed, bool):
        raise TokkitError(f"seed={seed!r} is not an integer")
    try:
        seed = operator.index(seed)
    except TypeError:
        raise TokkitError(f"seed={seed!r} is not an integer") from None
    if not 0 <= seed < 2**64:
        raise TokkitError(f"seed={seed} is outside [0, 2**64)")
    return seed


def _number(x, name: str, top: float) -> float:
    """A float in [0, top] (top may be inf)."""
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TokkitError(f"{name}={x!r} is not a number")
    x = float(x)
    if math.isnan(x) or not 0 <= x <= top or x == math.inf:
        raise TokkitError(f"{name}={x} is outside [0, {top:g}]")
    return x


def _native_sampling(s: Sampling | None) -> tuple[float | None, int]:
    """(dropout, seed) as the native encoder takes them (None: canonical)."""
    return (None, 0) if s is None else (s.dropout, s.seed)


def _mix64(z: int) -> int:
    """splitmix64's output function (the native core's, for seeds derived the same way)."""
    m = 2**64 - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


class SentencePieceSampler:
    """Unigram sampling (subword regularisation, Kudo 2018) through sentencepiece itself: the
    vocabulary written as a SentencePiece model in memory, ``encode(enable_sampling=True, alpha,
    nbest_size)``. sentencepiece's random generator is process-wide and seeded by
    ``set_random_generator_seed`` (32 bits), so samples are drawn one text at a time under a lock,
    each after seeding with a number derived from (seed, k). The model is checked once against
    the tokenizer's own canonical encoding of a few probe texts: a vocabulary whose pipeline
    SentencePiece cannot express is refused rather than sampled differently."""

    _lock = threading.Lock()
    PROBES = ("Hello world, this is a test of sampling.", "  two  spaces and\ttabs\nnew lines ",
              "naïve café 東京 ①②", "Numbers 1234 and 3.14159.")

    def __init__(self, tok: "Tokenizer"):
        import tempfile

        import sentencepiece as spm

        from .vocab.sentencepiece_io import write_sentencepiece

        self._spm = spm
        try:
            with tempfile.TemporaryDirectory(prefix="tokkit-sp-") as d:
                path = write_sentencepiece(tok.vocab, Path(d) / "m.model")
                self._sp = spm.SentencePieceProcessor(model_file=str(path))
        except UnsupportedError as e:
            raise UnsupportedError(f"Unigram sampling goes through sentencepiece: {e}") from None
        for text in self.PROBES:
            if self._sp.encode(text) != tok.encode(text).tolist():
                raise UnsupportedError("Unigram sampling goes through sentencepiece, which does not encode this "
                                       f"vocabulary as its tokenizer does (e.g. {text!r})")
        self._special = sorted({a.content for a in tok.vocab.added if a.special and a.content}, key=len, reverse=True)
        self._ids = {a.content: a.id for a in tok.vocab.added if a.special}

    def _segments(self, text: str, special: str, k: int, n: int) -> list[str | int]:
        """The text between special tokens (their ids, with ``special="allow"``), as the
        tokenizer splits it; sentencepiece matches user-defined pieces itself."""
        if special == "text" or not self._special:
            return [text]
        import re

        out: list[str | int] = []
        at = 0
        for m in re.finditer("|".join(map(re.escape, self._special)), text):
            if special == "raise":
                who = "text" if n == 1 else f"text {k}"
                raise TokkitError(f"{who} contains the special token {m.group()!r} (at byte "
                                  f"{len(text[:m.start()].encode('utf-8', 'surrogatepass'))}); encode it with "
                                  "special=\"text\" or \"allow\"")
            if m.start() > at:
                out.append(text[at:m.start()])
            out.append(self._ids[m.group()])
            at = m.end()
        if at < len(text):
            out.append(text[at:])
        return out

    def sample(self, texts: list[str], special: str, s: Sampling) -> list[list[int]]:
        out = []
        with self._lock:
            for k, text in enumerate(texts):
                seed = _mix64(_mix64(s.seed) ^ k) & 0xFFFFFFFF
                # all ones is sentencepiece's "no seed" (a random device)
                self._spm.set_random_generator_seed(min(seed, 0xFFFFFFFE))
                ids: list[int] = []
                for seg in self._segments(text, special, k, len(texts)):
                    if isinstance(seg, int):
                        ids.append(seg)
                    else:
                        ids += self._sp.encode(seg, enable_sampling=True, alpha=s.alpha, nbest_size=s.nbest)
                out.append(ids)
        return out


class HFAdapter:
    """The Hugging Face fallback: a ``tokenizers.Tokenizer`` built in memory from the
    tokenizer.json tokkit writes, with the engine's interface (special-token policies emulated:
    ``"text"`` with HF's ``encode_special_tokens``, ``"raise"`` by looking for special ids among
    the tokens)."""

    def __init__(self, vocab: Vocabulary):
        from tokenizers import Tokenizer as HFTokenizer

        from .vocab.hf import vocab_to_hf_json

        self.vocab = vocab
        spec = vocab_to_hf_json(vocab)
        if spec["model"].get("dropout") is not None:
            # the file's dropout is kept for writing it back; encoding is canonical (module docstring)
            spec["model"]["dropout"] = None
        self._json = json.dumps(spec)
        self._tok = self._build(HFTokenizer)
        self._ordinary = None  # the same with encode_special_tokens, for special="text"
        self._special_ids = {a.id: a.content for a in vocab.added if a.special}

    def _build(self, cls):
        tok = cls.from_str(self._json)
        # a file's padding/truncation settings are kept when writing it back, but encode()
        # returns the tokenization of the whole text, unpadded
        tok.no_padding()
        tok.no_truncation()
        return tok

    def _for(self, special: str):
        if special != "text":
            return self._tok
        if self._ordinary is None:
            from tokenizers import Tokenizer as HFTokenizer

            self._ordinary = self._build(HFTokenizer)
            self._ordinary.encode_special_tokens = True
        return self._ordinary

    def _encode(self, texts: list[str], special: str, add_special_tokens: bool):
        encs = self._for(special).encode_batch(texts, add_special_tokens=add_special_tokens)
        if special == "raise":
            for k, (t, e) in enumerate(zip(texts, encs)):
                for i, (a, b) in zip(e.ids, e.offsets):
                    # a special id whose span spells the token (not an [UNK] the model made)
                    if i in self._special_ids and t[a:b] == self._special_ids[i]:
                        at = len(t[:a].encode("utf-8", "surrogatepass"))
                        who = "text" if len(texts) == 1 else f"text {k}"
                        raise TokkitError(f"{who} contains the special token {self._special_ids[i]!r} (at byte {at}); "
                                          "encode it with special=\"text\" or \"allow\"")
        return encs

    def encode_batch_flat(self, texts: list[str], special: str,
                          add_special_tokens: bool) -> tuple[np.ndarray, np.ndarray]:
        encs = self._encode(texts, special, add_special_tokens)
        arrays = [np.asarray(e.ids, dtype=np.uint32) for e in encs]
        lengths = np.asarray([len(a) for a in arrays], dtype=np.uint32)
        return (np.concatenate(arrays) if arrays else np.zeros(0, np.uint32)), lengths

    def encode_offsets(self, texts: list[str], special: str, add_special_tokens: bool) -> Encoding:
        encs = self._encode(texts, special, add_special_tokens)
        ids, starts, ends = [], [], []
        for t, e in zip(texts, encs):
            c2b = char_byte_offsets(t)
            offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2).clip(0, len(t))
            ids.append(np.asarray(e.ids, dtype=np.uint32))
            starts.append(c2b[offs[:, 0]])
            ends.append(c2b[offs[:, 1]])
        lengths = np.asarray([len(a) for a in ids], dtype=np.int64)
        cat = (lambda xs, dt: np.concatenate(xs) if xs else np.zeros(0, dt))
        return Encoding(cat(ids, np.uint32), cat(starts, np.int64), cat(ends, np.int64), lengths)

    def decode(self, ids: list[int], skip_special_tokens: bool, errors: str) -> str:
        out = self._tok.decode(ids, skip_special_tokens=skip_special_tokens)
        if errors == "strict" and "\ufffd" in out:
            # HF repairs invalid UTF-8 with U+FFFD: strict refuses a U+FFFD no token spells
            spelled = b"".join(self.vocab.tokens[i] for i in ids if 0 <= i < self.vocab.size)
            if out.count("\ufffd") > spelled.count("\ufffd".encode()):
                raise UnicodeDecodeError("utf-8", spelled, 0, len(spelled), "the decoder replaced invalid UTF-8")
        return out


class Tokenizer:
    def __init__(self, vocab: Vocabulary, native: bool = True):
        from .encoder import native_encoder
        from .errors import UnsupportedError

        self.vocab = vocab
        self._encoder = None  # the native BPE encoder, or None: the adapter encodes
        self._adapter: HFAdapter | None = None  # built on first use
        self._sampler: SentencePieceSampler | None = None  # Unigram sampling, built on first use
        self.native_unsupported: str | None = None  # why the HF adapter encodes, if it does
        if native:
            try:
                self._encoder = native_encoder(vocab)
            except UnsupportedError as e:
                self.native_unsupported = str(e)
        else:
            self.native_unsupported = "disabled"
        self._native_decode = native
        self._decoder = None  # the native decoder, built on first use (decode_bytes always native)
        self._decode_why: str | None = None  # why decode goes through the adapter, if it does
        self._prefix, self._suffix = vocab.special_affixes()
        self._lens: np.ndarray | None = None

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kw) -> "Tokenizer":
        return cls(read_vocab(path, **kw))

    def _native_decoder(self):
        if self._decoder is None:
            from .encoder import native_decoder

            self._decoder, why = native_decoder(self.vocab)
            self._decode_why = why if self._native_decode else "disabled"
        return self._decoder

    @property
    def _decode_unsupported(self) -> str | None:
        """Why decode() goes through the Hugging Face adapter (None: native)."""
        self._native_decoder()
        return self._decode_why

    def _hf_adapter(self) -> HFAdapter:
        if self._adapter is None:
            self._adapter = HFAdapter(self.vocab)
        return self._adapter

    # -- encoding -------------------------------------------------------------------------------
    def _sampling(self, dropout: float | None = None, alpha: float | None = None, nbest: int | None = None,
                 seed: int | None = None) -> Sampling | None:
        """The subword regularisation the encode methods' arguments ask for, checked (None: the
        canonical encoding): ``dropout`` (BPE-dropout, 0 or None: none) for BPE vocabularies,
        ``alpha`` (and ``nbest``, -1 or at least 2) for Unigram ones; ``seed`` None draws a fresh one."""
        if nbest is not None and alpha is None:
            raise TokkitError("nbest= goes with alpha= (Unigram sampling)")
        if dropout is not None and alpha is not None:
            raise TokkitError("give dropout= (BPE-dropout) or alpha= (Unigram sampling), not both")
        model = self.vocab.model
        if dropout is not None:
            p = _number(dropout, "dropout", 1.0)
            if model != ModelKind.BPE:
                how = ("samples with alpha= (Unigram sampling)" if model == ModelKind.UNIGRAM
                       else "has no merges to drop")
                raise TokkitError(f"dropout= is BPE-dropout; a {model.value} vocabulary {how}")
            if self._encoder is None:
                raise TokkitError("BPE-dropout runs in the native encoder, which does not take this vocabulary "
                                  f"({self.native_unsupported})")
            seed = _seed(seed)
            return Sampling(seed=seed, dropout=p) if p > 0 else None
        if alpha is not None:
            a = _number(alpha, "alpha", math.inf)
            if model != ModelKind.UNIGRAM:
                how = "samples with dropout= (BPE-dropout)" if model == ModelKind.BPE else "has no sampling"
                raise TokkitError(f"alpha= is Unigram sampling; a {model.value} vocabulary {how}")
            n = -1 if nbest is None else nbest
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not (n == -1 or n >= 2):
                raise TokkitError(f"nbest={nbest!r}: use -1 (sample from every segmentation) or a number >= 2")
            return Sampling(seed=_seed(seed), alpha=a, nbest=int(n))
        if seed is not None:
            _seed(seed)
        return None

    def _unigram_sample(self, texts: list[str], special: str, add_special_tokens: bool,
                        s: Sampling) -> tuple[np.ndarray, np.ndarray]:
        """Unigram samples of many texts: (all ids, one length per text), uint32."""
        if self._sampler is None:
            self._sampler = SentencePieceSampler(self)
        per = self._sampler.sample(texts, special, s)
        if add_special_tokens:
            per = [self._prefix + ids + self._suffix for ids in per]
        lengths = np.fromiter((len(x) for x in per), np.uint32, count=len(per))
        flat = np.fromiter((i for x in per for i in x), np.uint32, count=int(lengths.sum()))
        return flat, lengths

    def encode(self, text: str, *, special: str = "allow", add_special_tokens: bool = False,
               dropout: float | None = None, alpha: float | None = None, nbest: int | None = None,
               seed: int | None = None) -> np.ndarray:
        """Token ids of ``text`` (uint32). ``special``: what special-token text becomes (module
        docstring); ``add_special_tokens`` adds BOS/EOS as the tokenizer's post-processor says.
        ``dropout``/``alpha``/``nbest``/``seed``: a sampled segmentation (module docstring); the
        same as text 0 of :meth:`encode_batch` with the same arguments."""
        _check_special(special)
        s = self._sampling(dropout, alpha, nbest, seed)
        if s is not None and s.alpha is not None:
            return self._unigram_sample([text], special, add_special_tokens, s)[0]
        if self._encoder is None:
            return self._hf_adapter().encode_batch_flat([text], special, add_special_tokens)[0]
        from .encoder import ids_from_bytes

        if special == "allow" and s is None:
            ids = ids_from_bytes(self._encoder.encode(text))
        else:
            try:
                b, _, _ = self._encoder.encode_with(text, special, False, *_native_sampling(s))
            except ValueError as e:
                raise TokkitError(str(e)) from None
            ids = ids_from_bytes(b)
        if add_special_tokens and (self._prefix or self._suffix):
            ids = np.concatenate([np.asarray(self._prefix, np.uint32), ids, np.asarray(self._suffix, np.uint32)])
        return ids

    def encode_ordinary(self, text: str, **sampling) -> np.ndarray:
        """``encode(text, special="text")``: special-token text is ordinary text (tiktoken's
        ``encode_ordinary``); ``sampling``: :meth:`encode`'s dropout/alpha/nbest/seed."""
        return self.encode(text, special="text", **sampling)

    def encode_batch(self, texts: Sequence[str], *, special: str = "allow", add_special_tokens: bool = False,
                     dropout: float | None = None, alpha: float | None = None, nbest: int | None = None,
                     seed: int | None = None) -> list[np.ndarray]:
        """Encode many texts in parallel; one uint32 array per text. With sampling, text k is
        sampled from the stream of (seed, k)."""
        ids, lengths = self.encode_batch_flat(texts, special=special, add_special_tokens=add_special_tokens,
                                              dropout=dropout, alpha=alpha, nbest=nbest, seed=seed)
        return np.split(ids, np.cumsum(lengths)[:-1]) if len(lengths) else []

    def encode_batch_flat(self, texts: Sequence[str], *, special: str = "allow", add_special_tokens: bool = False,
                          dropout: float | None = None, alpha: float | None = None, nbest: int | None = None,
                          seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Encode many texts in parallel: (all ids concatenated, one length per text), uint32."""
        _check_special(special)
        texts = list(texts)
        s = self._sampling(dropout, alpha, nbest, seed)
        if s is not None and s.alpha is not None:
            return self._unigram_sample(texts, special, add_special_tokens, s)
        if self._encoder is None:
            return self._hf_adapter().encode_batch_flat(texts, special, add_special_tokens)
        from .encoder import ids_from_bytes

        if special == "allow" and s is None:
            flat, lengths = self._encoder.encode_batch(texts)
        else:
            try:
                flat, lengths, _, _ = self._encoder.encode_batch_with(texts, special, False, *_native_sampling(s))
            except ValueError as e:
                raise _special_error(e, len(texts)) from None
        ids, lengths = ids_from_bytes(flat), ids_from_bytes(lengths)
        if add_special_tokens and (self._prefix or self._suffix):
            ids, lengths, _ = self._affix(ids, lengths.astype(np.int64))
            lengths = lengths.astype(np.uint32)
        return ids, lengths

    def encode_offsets(self, texts: str | Sequence[str], *, special: str = "allow",
                       add_special_tokens: bool = False, dropout: float | None = None, alpha: float | None = None,
                       nbest: int | None = None, seed: int | None = None) -> Encoding:
        """Ids with the UTF-8 byte offsets of every token in its text (one text or many, in
        parallel), as a flat :class:`~tokkit.encoding.Encoding`. Template BOS/EOS tokens
        (``add_special_tokens``) get offsets (0, 0), as in Hugging Face. BPE-dropout samples
        have offsets; Unigram samples (``alpha``) do not."""
        _check_special(special)
        texts = _texts(texts)
        s = self._sampling(dropout, alpha, nbest, seed)
        if s is not None and s.alpha is not None:
            raise TokkitError("Unigram samples (alpha=) come without offsets; use encode/encode_batch")
        if self._encoder is None:
            return self._hf_adapter().encode_offsets(texts, special, add_special_tokens)
        from .encoder import i64_from_bytes, ids_from_bytes

        try:
            flat, lengths, starts, ends = self._encoder.encode_batch_with(texts, special, True, *_native_sampling(s))
        except ValueError as e:
            raise _special_error(e, len(texts)) from None
        ids, lengths = ids_from_bytes(flat), ids_from_bytes(lengths).astype(np.int64)
        starts, ends = i64_from_bytes(starts), i64_from_bytes(ends)
        if add_special_tokens and (self._prefix or self._suffix):
            ids, lengths, (starts, ends) = self._affix(ids, lengths, starts, ends)
        return Encoding(ids, starts, ends, lengths)

    def _affix(self, ids: np.ndarray, lengths: np.ndarray, *offsets: np.ndarray):
        """Put the template's BOS/EOS around every text (flat arrays); their offsets are 0."""
        pre, suf = np.asarray(self._prefix, np.uint32), np.asarray(self._suffix, np.uint32)
        n, p, s = len(lengths), len(pre), len(suf)
        new_len = lengths + p + s
        out_start = np.zeros(n, np.int64)
        np.cumsum(new_len[:-1], out=out_start[1:])
        in_start = np.zeros(n, np.int64)
        np.cumsum(lengths[:-1], out=in_start[1:])
        body = np.repeat(out_start + p - in_start, lengths) + np.arange(len(ids), dtype=np.int64)
        total = int(new_len.sum())
        out_ids = np.empty(total, np.uint32)
        out_ids[body] = ids
        for k in range(p):
            out_ids[out_start + k] = pre[k]
        for k in range(s):
            out_ids[out_start + p + lengths + k] = suf[k]
        outs = []
        for o in offsets:
            a = np.zeros(total, np.int64)
            a[body] = o
            outs.append(a)
        return out_ids, new_len, outs

    def token_lengths(self) -> np.ndarray:
        """Bytes each id spells (int64), for offsets and byte counts without Python loops."""
        if self._lens is None:
            self._lens = np.fromiter((len(t) for t in self.vocab.tokens), dtype=np.int64, count=self.vocab.size)
        return self._lens

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, ids: Sequence[int] | np.ndarray, *, skip_special_tokens: bool = False,
               errors: str = "replace") -> str:
        """Text of ``ids`` as Hugging Face's ``decode`` gives it (the decoder steps: byte-level,
        ``▁`` and the dummy prefix, byte fallback, WordPiece ``##``...). ``errors="replace"``
        repairs invalid UTF-8 with U+FFFD as HF does; ``"strict"`` raises UnicodeDecodeError.
        Ids at or above the vocabulary size are dropped, as HF drops them; an id that is not a
        u32 (negative, 2**32 and above) is an IndexError, as in :meth:`decode_bytes`."""
        if errors not in DECODE_ERRORS:
            raise TokkitError(f"errors={errors!r}: use 'replace' or 'strict'")
        b = _u32_bytes(ids)
        if self._decode_unsupported is not None:
            return self._hf_adapter().decode([int(i) for i in ids], skip_special_tokens, errors)
        return self._native_decoder().decode(b, skip_special_tokens, errors == "strict")

    def decode_batch(self, seqs: Sequence[Sequence[int] | np.ndarray], *, skip_special_tokens: bool = False,
                     errors: str = "replace") -> list[str]:
        """:meth:`decode` of many id sequences (in parallel)."""
        if errors not in DECODE_ERRORS:
            raise TokkitError(f"errors={errors!r}: use 'replace' or 'strict'")
        seqs = list(seqs)
        if self._decode_unsupported is not None:
            return [self.decode(s, skip_special_tokens=skip_special_tokens, errors=errors) for s in seqs]
        lengths = np.fromiter((len(s) for s in seqs), np.uint32, count=len(seqs))
        flat = b"".join(_u32_bytes(s) for s in seqs)
        return self._native_decoder().decode_batch(flat, lengths.astype("<u4").tobytes(), skip_special_tokens,
                                                   errors == "strict")

    def decode_bytes(self, ids: Sequence[int] | np.ndarray) -> bytes:
        """The exact bytes the ids spell (no normalizer undone, no UTF-8 repair); IndexError for an
        id out of range."""
        return self._native_decoder().decode_bytes(_u32_bytes(ids))

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
