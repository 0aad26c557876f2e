"""Encode every text of a report once per tokenizer, with UTF-8 byte offsets (flat arrays).

One :meth:`tokkit.Tokenizer.encode_offsets` call gives ids and every token's byte span
(computed while encoding, Hugging Face's offsets). The report keeps, per token, the byte where
it ends in its text, non-decreasing, and says per text whether the tokens spell the text
(possibly after SentencePiece's dummy prefix, a space the tokens add before the text):

- a text the tokens spell: exact byte ends; a token that is only the dummy prefix ends before
  the text (at 0; Hugging Face aligns it to the first character);
- any other text (a normalizer changed it: lowercasing, NFKC...; a symbol without a token):
  Hugging Face's character offsets, in bytes (a token inside a character ends with it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Encoded:
    ids: np.ndarray  # uint32, all texts concatenated
    ends: np.ndarray  # int64 byte offset (in its text) where each token ends, non-decreasing per text
    lengths: np.ndarray  # int64 tokens per text
    text_of_token: np.ndarray  # int64
    offsets_exact: np.ndarray  # bool per text: token bytes spell the text (possibly after the dummy prefix)
    seconds: float = 0.0
    verified: int = 0  # texts whose token bytes were compared with the text byte for byte
    check: str = ""


def _char_ends(ends: np.ndarray, text_of_token: np.ndarray, text_bytes: list[bytes]) -> np.ndarray:
    """Byte ends rounded up to the end of the character they fall in (Hugging Face's character
    offsets, in bytes)."""
    nbytes = np.fromiter((len(b) for b in text_bytes), np.int64, count=len(text_bytes))
    base = np.zeros(len(text_bytes) + 1, np.int64)
    np.cumsum(nbytes, out=base[1:])
    buf = np.frombuffer(b"".join(text_bytes), np.uint8)
    leads = np.flatnonzero((buf & 0xC0) != 0x80)
    g = base[text_of_token] + np.clip(ends, 0, nbytes[text_of_token])
    nxt = np.append(leads, len(buf))[np.searchsorted(leads, g, side="left")]
    return np.minimum(nxt, base[text_of_token] + nbytes[text_of_token]) - base[text_of_token]


def _cummax_per_text(ends: np.ndarray, lengths: np.ndarray, text_bytes: list[bytes]) -> np.ndarray:
    """np.maximum.accumulate within each text."""
    if not len(ends):
        return ends
    shift = np.zeros(len(lengths), np.int64)
    np.cumsum(np.fromiter((len(b) + 1 for b in text_bytes), np.int64, count=len(text_bytes))[:-1], out=shift[1:])
    s = np.repeat(shift, lengths)
    return np.maximum.accumulate(ends + s) - s


def encode_texts(tok, texts: list[str], text_bytes: list[bytes] | None = None) -> Encoded:
    import time

    t0 = time.perf_counter()
    text_bytes = text_bytes if text_bytes is not None else [t.encode("utf-8", "surrogatepass") for t in texts]
    n = len(texts)
    enc = tok.encode_offsets(texts, special="text")
    ids, lengths = enc.ids, enc.lengths.astype(np.int64)
    text_of_token = enc.text_of_token()
    exact = np.zeros(n, bool)
    if tok.native_unsupported is not None:
        ends = enc.ends.astype(np.int64)
        verified, check = 0, "Hugging Face character offsets"
    else:
        ends = enc.ends.astype(np.int64).copy()
        tl = tok.token_lengths()[ids]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        csum = np.cumsum(tl)
        base = np.concatenate([[0], csum])[bounds[:-1]]
        tok_total = np.concatenate([[0], csum])[bounds[1:]] - base
        nbytes = np.fromiter((len(b) for b in text_bytes), dtype=np.int64, count=n)
        same_len = tok_total == nbytes
        v = tok.vocab
        plain_bytes = not v.normalizer and v.surface.value == "byte_level"
        if same_len.all() and plain_bytes:
            # byte-level BPE without a normalizer spells its input by construction; every text's
            # byte total matches, and every 8th text is compared byte for byte as a check
            sample = np.arange(0, n, 8)
            sel = np.repeat(np.arange(n) % 8 == 0, lengths)
            if tok.decode_bytes(ids[sel]) == b"".join(text_bytes[k] for k in sample.tolist()):
                exact[:] = True
                verified, check = len(sample), "byte totals of every text; bytes of every 8th text"
        if not exact.all():
            spelled = tok.decode_bytes(ids)
            verified, check = n, "bytes of every text"
            if same_len.all() and spelled == b"".join(text_bytes):
                exact[:] = True
            else:
                for k in range(n):
                    a, b = int(base[k]), int(base[k] + tok_total[k])
                    piece = spelled[a:b]
                    if same_len[k] and piece == text_bytes[k]:
                        exact[k] = True
                    elif tok_total[k] == nbytes[k] + 1 and piece[:1] == b" " and piece[1:] == text_bytes[k]:
                        exact[k] = True
                        # the dummy prefix: a first token that is only the prefix ends at 0
                        ends[bounds[k]] = max(int(tl[bounds[k]]) - 1, 0)
        # a text its tokens spell byte for byte: each token ends where its bytes do (the engine's
        # offsets may be trimmed of white space, RoBERTa's trim_offsets; a report counts bytes)
        spelt = np.repeat(exact & same_len, lengths)
        ends[spelt] = (csum - np.repeat(base, lengths))[spelt]
        fix = np.repeat(~exact, lengths)
        if fix.any():
            ends[fix] = _char_ends(ends[fix], text_of_token[fix], text_bytes)
    ends = _cummax_per_text(ends, lengths, text_bytes)
    return Encoded(ids.astype(np.uint32), ends.astype(np.int64), lengths, text_of_token, exact,
                   time.perf_counter() - t0, verified, check)
