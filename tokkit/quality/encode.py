"""Encode every text of a report once per tokenizer, with UTF-8 byte offsets (flat arrays).

The native batch encoder gives ids; the offsets come from token byte lengths, which is exact
when the tokens spell the text (byte-level BPE). SentencePiece's dummy prefix (a space the
tokens add before the text) is recognised and shifted away; any other text whose tokens do not
spell it (normalizers: lowercasing, NFKC...) takes Hugging Face's character offsets.
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


def _hf_offsets(tok, texts: list[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    encs = tok._hf().encode_batch(list(texts), add_special_tokens=False)
    ids, ends = [], []
    from .segment import _byte_map

    for t, e in zip(texts, encs):
        c2b = _byte_map(t)
        offs = np.asarray(e.offsets, dtype=np.int64).reshape(-1, 2)
        ids.append(np.asarray(e.ids, dtype=np.uint32))
        ends.append(np.maximum.accumulate(c2b[np.clip(offs[:, 1], 0, len(t))]) if len(offs) else np.zeros(0, np.int64))
    return ids, ends


def _vocab_buffer(tok) -> tuple[np.ndarray, np.ndarray]:
    buf = getattr(tok, "_quality_buf", None)
    if buf is None:
        toks = tok.vocab.tokens
        starts = np.concatenate([[0], np.cumsum(tok.token_lengths())[:-1]])
        buf = (np.frombuffer(b"".join(toks), dtype=np.uint8), starts.astype(np.int64))
        tok._quality_buf = buf
    return buf


def spell(tok, ids: np.ndarray, tl: np.ndarray | None = None) -> bytes:
    """The bytes ``ids`` spell, gathered with numpy (no Python loop over tokens)."""
    data, starts = _vocab_buffer(tok)
    tl = tok.token_lengths()[ids] if tl is None else tl
    total = int(tl.sum())
    if total == 0:
        return b""
    first = np.cumsum(tl) - tl
    idx = np.repeat(starts[ids] - first, tl) + np.arange(total, dtype=np.int64)
    return data[idx].tobytes()


def encode_texts(tok, texts: list[str], text_bytes: list[bytes] | None = None) -> Encoded:
    import time

    t0 = time.perf_counter()
    text_bytes = text_bytes if text_bytes is not None else [t.encode("utf-8", "surrogatepass") for t in texts]
    n = len(texts)
    if tok.native_unsupported is not None:
        id_list, end_list = _hf_offsets(tok, texts)
        lengths = np.fromiter((len(a) for a in id_list), dtype=np.int64, count=n)
        ids = np.concatenate(id_list) if n else np.zeros(0, np.uint32)
        ends = np.concatenate(end_list) if n else np.zeros(0, np.int64)
        exact = np.zeros(n, bool)
        verified, check = 0, "Hugging Face character offsets"
    else:
        ids, lengths = tok.encode_batch_flat(texts)
        lengths = lengths.astype(np.int64)
        tl = tok.token_lengths()[ids]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        csum = np.cumsum(tl)
        base = np.concatenate([[0], csum])[bounds[:-1]]
        ends = csum - np.repeat(base, lengths)
        tok_total = np.concatenate([[0], csum])[bounds[1:]] - base
        nbytes = np.fromiter((len(b) for b in text_bytes), dtype=np.int64, count=n)
        exact = np.zeros(n, bool)
        same_len = tok_total == nbytes
        v = tok.vocab
        plain_bytes = not v.normalizer and v.surface.value == "byte_level"
        if same_len.all() and plain_bytes:
            # byte-level BPE without a normalizer spells its input by construction; every text's
            # byte total matches, and every 8th text is compared byte for byte as a check
            sample = np.arange(0, n, 8)
            sel = np.repeat(np.arange(n) % 8 == 0, lengths)
            if spell(tok, ids[sel], tl[sel]) == b"".join(text_bytes[k] for k in sample.tolist()):
                exact[:] = True
                verified, check = len(sample), "byte totals of every text; bytes of every 8th text"
        if not exact.all():
            spelled = spell(tok, ids, tl)
            verified, check = n, "bytes of every text"
        if exact.all():
            pass
        elif same_len.all() and spelled == b"".join(text_bytes):
            exact[:] = True
        else:
            fix = []
            for k in range(n):
                a, b = int(base[k]), int(base[k] + tok_total[k])
                piece = spelled[a:b]
                if same_len[k] and piece == text_bytes[k]:
                    exact[k] = True
                elif tok_total[k] == nbytes[k] + 1 and piece[:1] == b" " and piece[1:] == text_bytes[k]:
                    s, e = bounds[k], bounds[k + 1]
                    ends[s:e] = np.maximum(ends[s:e] - 1, 0)  # the dummy prefix space
                    exact[k] = True
                else:
                    fix.append(k)
            if fix:
                fid, fend = _hf_offsets(tok, [texts[k] for k in fix])
                parts_i, parts_e, new_len = [], [], lengths.copy()
                fixmap = dict(zip(fix, range(len(fix))))
                for k in range(n):
                    if k in fixmap:
                        j = fixmap[k]
                        parts_i.append(fid[j])
                        parts_e.append(fend[j])
                        new_len[k] = len(fid[j])
                    else:
                        parts_i.append(ids[bounds[k]:bounds[k + 1]])
                        parts_e.append(ends[bounds[k]:bounds[k + 1]])
                ids, ends, lengths = np.concatenate(parts_i), np.concatenate(parts_e), new_len
    text_of_token = np.repeat(np.arange(n, dtype=np.int64), lengths)
    return Encoded(ids.astype(np.uint32), ends.astype(np.int64), lengths, text_of_token, exact,
                   time.perf_counter() - t0, verified, check)
