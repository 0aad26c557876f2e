"""Turkish report, offline: %TR and %Pure ("Tokenization Standards for Linguistic Integrity:
Turkish as a Benchmark") for the 10 benchmark tokenizers on the UDHR's Turkish declaration.

%TR: share of tokens that are Turkish words (hunspell-tr stems, or a zeyrek analysis that is
not a proper noun/abbreviation guess); %Pure: share of tokens that are a root or a single
morpheme (zeyrek). Both over tokens that contain a letter, per occurrence in the text and per
distinct token (the paper's denominator). The paper's values (Gemma-2 48.63 / 37.05,
Llama-3.1 45.80 / 30.91, GPT-4o 42.14 / 28.68) come from another corpus, an online dictionary
and unique tokens of a large Turkish dataset: compare the ranking, not the level.

    .venv/bin/python eval/report_turkish.py [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="also write the report directory here")
    args = ap.parse_args()
    from report_speed import tokkit_trained

    from tokkit import assets
    from tokkit.quality import ReportOptions, build_report, write_report

    known = assets.pretrained_tokenizers()
    toks = [f"{n}={known[n]}" for n in ("gpt2", "llama3", "qwen2", "smollm2", "cl100k", "mistral-v1", "mistral-v3")]
    toks += [f"{n}={p}" for n, p in tokkit_trained().items()]
    rep = build_report(toks, ["udhr"], ["tr"], ReportOptions(linguistic=True, n_boot=1000))
    if args.out:
        write_report(rep, args.out, force=True)
    per = {(r["tokenizer"], r["lang"]): r for r in rep["per_language"]}
    lex = next(r for r in rep["linguistic"] if r["lang"] == "tur")
    print(f"UDHR Turkish ({next(c['words'] for c in rep['corpora'] if c['lang'] == 'tur'):,} words); "
          f"lexicons: {', '.join(lex.get('lexicons') or [])}; "
          f"linguistic step {rep['timing'].get('linguistic_s', 0):.1f} s")
    print()
    print("| tokenizer | vocab | %TR (tokens) | %TR (distinct) | %Pure (tokens) | %Pure (distinct) | fertility | "
          "PCW | premium vs eng [95% CI] |")
    print("|---|---|---|---|---|---|---|---|---|")
    sizes = {t["tokenizer"]: t["vocab_size"] for t in rep["per_tokenizer"]}
    for r in rep["linguistic"]:
        if r["lang"] != "tur":
            continue
        p = per[(r["tokenizer"], "tur")]
        pct = lambda v: "-" if v is None else f"{100 * v:.1f}"  # noqa: E731
        print(f"| {r['tokenizer']} | {sizes[r['tokenizer']]:,} | {pct(r.get('valid_word_share'))} | "
              f"{pct(r.get('valid_word_share_distinct'))} | {pct(r.get('pure_share'))} | "
              f"{pct(r.get('pure_share_distinct'))} | {p['fertility']:.2f} | {p['pcw']:.2f} | "
              f"{p['premium']:.2f} [{p['premium_ci_low']:.2f}, {p['premium_ci_high']:.2f}] |")


if __name__ == "__main__":
    main()
