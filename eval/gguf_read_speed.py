"""Reading a GGUF vocabulary: tokkit's header reader vs the gguf package's GGUFReader, side by
side in one process (same files, best of 3).

    .venv/bin/python eval/gguf_read_speed.py
"""

from __future__ import annotations

import time

import gguf

from tokkit import assets
from tokkit.vocab.gguf_io import _Header


def best(fn, n=3):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    print("| file | tokens | merges | tokkit header (s) | gguf.GGUFReader + contents (s) | ratio |")
    print("|---|---|---|---|---|---|")
    for name in ("gpt-2", "qwen2", "llama-bpe"):
        path = assets.llama_vocab(name)
        t1, h = best(lambda p=path: _Header(p).fields)

        def ref(p=path):
            r = gguf.GGUFReader(str(p), "r")
            return {k: r.fields[k].contents() for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges")}

        t2, f = best(ref, n=1)
        assert f["tokenizer.ggml.tokens"] == h["tokenizer.ggml.tokens"]
        assert f["tokenizer.ggml.merges"] == h["tokenizer.ggml.merges"]
        print(f"| ggml-vocab-{name}.gguf | {len(h['tokenizer.ggml.tokens']):,} | "
              f"{len(h['tokenizer.ggml.merges']):,} | {t1:.2f} | {t2:.2f} | {t2 / t1:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
