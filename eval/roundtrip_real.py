"""Exact round trip on real tokenizers: original file -> tokkit data model -> tokenizer.json ->
stock transformers AutoTokenizer, ids compared with the ORIGINAL tokenizer library, on every
bundled UDHR language and the whole legal sample; plus llama.cpp's own reference ids for the
GGUF vocabularies.

    .venv/bin/python eval/roundtrip_real.py [--out docs/roundtrip.md] [--only gpt2,cl100k] [--json F]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tokkit import assets, corpora, read_vocab, write_vocab  # noqa: E402
from tokkit.vocab import detect_format  # noqa: E402
from tokkit.vocab.verify import llama_cpp_cases, original_encoder, roundtrip, stock_hf_encoder  # noqa: E402


def texts_and_labels() -> tuple[list[str], list[str], dict[str, int]]:
    texts, labels = [], []
    udhr = corpora.udhr_parallel()
    for key in sorted(udhr):
        for i, t in enumerate(udhr[key], 1):
            texts.append(t)
            labels.append(f"udhr:{key}:{i}")
    n_udhr = len(texts)
    for i, t in enumerate(corpora.open_corpus("legal", split="all")):
        texts.append(t)
        labels.append(f"legal:{i}")
    return texts, labels, {"udhr_languages": len(udhr), "udhr_texts": n_udhr, "legal_texts": len(texts) - n_udhr}


def note(r: dict) -> str:
    if "mismatched_without_digit_split" in r:
        return (f"{r['mismatched_without_digit_split']} mismatched once tokkit's digit split (llama.cpp pre-type "
                f"'{read_vocab(assets.pretrained_tokenizers()[r['tokenizer']]).meta.get('gguf_pre')}') is "
                "removed: the original encoder omits it")
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the Markdown table here")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--only", help="comma-separated tokenizer names")
    args = ap.parse_args(argv)
    texts, labels, counts = texts_and_labels()
    chars = sum(len(t) for t in texts)
    print(f"{counts['udhr_languages']} UDHR languages ({counts['udhr_texts']} articles) + "
          f"{counts['legal_texts']} legal texts, {chars:,} characters", flush=True)
    names = list(assets.pretrained_tokenizers())
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    rows = []
    for name in names:
        path = assets.pretrained_tokenizers()[name]
        desc, ref = original_encoder(name)
        r = roundtrip(path, texts, reference=ref, labels=labels)
        row = {"tokenizer": name, "source_format": detect_format(path).replace("-name", ""), "original": desc,
               "texts": r.texts, "chars": r.chars, "tokens": r.tokens, "mismatched_texts": r.mismatched,
               "examples": r.examples, "seconds": r.seconds}
        if path.endswith(".gguf") and Path(path + ".inp").exists():
            cases = llama_cpp_cases(path)
            with tempfile.TemporaryDirectory() as d:
                write_vocab(read_vocab(path), d)
                got = stock_hf_encoder(d)([c[0] for c in cases])
            row["llama_cpp_cases"] = len(cases)
            row["llama_cpp_mismatched"] = sum(1 for (t, ids), g in zip(cases, got) if list(ids) != list(g))
        if row["mismatched_texts"] and any(st.kind == "digits" for st in read_vocab(path).pretokenizer):
            # is the whole difference the digit split the original encoder omits? (SmolLM2)
            v = read_vocab(path)
            abl = v.copy(pretokenizer=[st for st in v.pretokenizer if st.kind != "digits"])
            with tempfile.TemporaryDirectory() as d:
                write_vocab(abl, d)
                got = stock_hf_encoder(d)(texts)
            row["mismatched_without_digit_split"] = sum(1 for a, b in zip(ref(texts), got) if list(a) != b)
        rows.append(row)
        print(f"{name:12s} {row['mismatched_texts']:5d} mismatched of {r.texts} texts ({r.tokens:,} tokens) "
              f"[{desc}] {r.seconds:.1f}s", flush=True)
        for ex in r.examples[:3]:
            print("    ", ex)
    lines = [
        f"Texts: {counts['udhr_languages']} UDHR languages x 30 articles ({counts['udhr_texts']} texts) + "
        f"{counts['legal_texts']} SPDX licence texts, {chars:,} characters. Command: "
        "`.venv/bin/python eval/roundtrip_real.py`.",
        "",
        "| tokenizer | read from | original encoder | texts | tokens | mismatched texts | llama.cpp reference cases |"
        " note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cpp = f"{r['llama_cpp_cases'] - r['llama_cpp_mismatched']}/{r['llama_cpp_cases']} exact" \
            if "llama_cpp_cases" in r else "-"
        lines.append(f"| {r['tokenizer']} | {r['source_format']} | {r['original']} | {r['texts']:,} | "
                     f"{r['tokens']:,} | {r['mismatched_texts']} | {cpp} | {note(r)} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")
    return 1 if any(r["mismatched_texts"] and r.get("mismatched_without_digit_split", 1) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
