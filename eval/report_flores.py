"""Our UDHR premiums for GPT-2 and cl100k against the published FLORES-200 values.

Published numbers: Petrov et al. 2023, "Language Model Tokenizers Introduce Unfairness Between
Languages", token totals per language over FLORES-200 from the authors' repository
(AleksandarPetrov/tokenization-fairness, assets/tokenization_lengths.csv at commit 365c3f85):
the GPT-2, cl100k_base and UTF-32 (= characters) columns for the languages below. Premium =
tokens(language) / tokens(English).

Each premium splits exactly into (characters of the language / characters of English) x
(tokens per character of the language / tokens per character of English): the first factor is
about the translation (how long this text is in that language), the second about the
tokenizer. The table shows both factors for both corpora, which is where the differences come
from.

    .venv/bin/python eval/report_flores.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# language -> (GPT-2 tokens, cl100k_base tokens, UTF-32 tokens = characters), FLORES-200
FLORES = {
    "eng": (52567, 52835, 259170),
    "tur": (127797, 101176, 266383),
    "rus": (301727, 131496, 282208),
    "hin": (392092, 253270, 258472),
    "arb": (231316, 160485, 228923),
    "cmn_hans": (168850, 101138, 87445),
}
NAMES = {"tur": "tr", "rus": "ru", "hin": "hi", "arb": "ar", "cmn_hans": "zh (Simplified)"}


def main() -> None:
    from tokkit import assets
    from tokkit.quality import ReportOptions, build_report

    known = assets.pretrained_tokenizers()
    rep = build_report([f"gpt2={known['gpt2']}", f"cl100k={known['cl100k']}"], ["udhr"],
                       ["tr", "ru", "hi", "ar", "zh"], ReportOptions(n_boot=2000, linguistic=False, audit=False))
    rows = {(r["tokenizer"], r["lang"]): r for r in rep["per_language"]}
    chars = {c["lang"]: c["chars"] for c in rep["corpora"]}
    print("UDHR: 30 aligned articles per language, pivot eng; premium 95% CI from 2,000 bootstrap resamples "
          "of the articles. FLORES-200: Petrov et al. 2023's published token totals.")
    print()
    print("| lang | tokenizer | UDHR premium [95% CI] | FLORES-200 premium | UDHR / FLORES | "
          "chars vs eng: UDHR / FLORES | tokens per char vs eng: UDHR / FLORES |")
    print("|---|---|---|---|---|---|---|")
    for lang in ("tur", "rus", "hin", "arb", "cmn_hans"):
        for col, tok in ((0, "gpt2"), (1, "cl100k")):
            r = rows[(tok, lang)]
            f_prem = FLORES[lang][col] / FLORES["eng"][col]
            u_char = chars[lang] / chars["eng"]
            f_char = FLORES[lang][2] / FLORES["eng"][2]
            u_tpc = r["premium"] / u_char
            f_tpc = f_prem / f_char
            ci = f"[{r['premium_ci_low']:.2f}, {r['premium_ci_high']:.2f}]"
            print(f"| {NAMES[lang]} | {tok} | {r['premium']:.2f} {ci} "
                  f"| {f_prem:.2f} | {r['premium'] / f_prem:.2f} | {u_char:.2f} / {f_char:.2f} | "
                  f"{u_tpc:.2f} / {f_tpc:.2f} |")
    print()
    for col, tok in ((0, "gpt2"), (1, "cl100k")):
        u = rows[(tok, "eng")]["tokens_per_char"]
        f = FLORES["eng"][col] / FLORES["eng"][2]
        print(f"English pivot, {tok}: {u:.4f} tokens/char on the UDHR, {f:.4f} on FLORES-200 "
              f"(the UDHR's English is cheaper to encode: every UDHR premium is x{f / u:.3f} from the pivot alone)")


if __name__ == "__main__":
    main()
