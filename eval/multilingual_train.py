"""Multilingual balance: 64k BPE tokenizers trained with proportional counts, language
temperatures 3 and 5, and parity-aware weights, against Llama-3, Qwen2 and cl100k.

    .venv/bin/python eval/multilingual_train.py [--vocab-size 64000] [--parity-rounds 6]

Training text: GNOME help in its 42 locales (train split) and the UDHR's train articles (1-20)
in all 521 declarations (``corpus:gnome-help:*``, ``corpus:udhr:*``), counted once by language
(``count_groups``: a table by source) and trained from that table under each weighting (the
Llama-3 pretokenizer). Evaluation on text no tokenizer trained on: the UDHR's held-out articles
21-30 (parallel in every language), GNOME help's held-out split for English bytes per token.

Printed (markdown): premium Gini (the report's fairness Gini over tokens per aligned unit) over
the training languages that have a UDHR declaration and over all 521 declarations, English
bytes per token, Hindi / Arabic / Chinese premiums against English, training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PREMIUMS = {"hin": "Hindi", "arb": "Arabic", "cmn_hans": "Chinese"}


def heldout_units() -> dict[str, list[str]]:
    from tokkit import corpora

    return {e["key"]: list(corpora.open_corpus("udhr", e["key"], split="heldout")) for e in corpora.udhr_languages()}


def english_heldout() -> list[str]:
    from tokkit import corpora

    return [t for t in corpora.open_corpus("gnome-help", "en", split="heldout") if t]


def measure(tok, units: dict[str, list[str]], train_keys: set[str], english: list[str]) -> dict:
    from tokkit import corpora
    from tokkit.quality.metrics.parity import gini

    c = {k: float(np.mean([len(x) for x in tok.encode_batch(v, special="text")])) for k, v in units.items()}
    iso = {e["key"]: e["iso639_3"] for e in corpora.udhr_languages()}
    in_train = [k for k in c if iso[k] in train_keys]
    eng_tokens = sum(len(x) for x in tok.encode_batch(english, special="text"))
    out = {"gini_train_langs": float(gini(np.array([c[k] for k in in_train]))),
           "gini_all_udhr": float(gini(np.array(list(c.values())))),
           "train_langs": len(in_train),
           "english_bytes_per_token": sum(len(t.encode()) for t in english) / eng_tokens,
           "english_tokens": eng_tokens}
    for k in PREMIUMS:
        out[f"premium_{k}"] = c[k] / c["eng"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vocab-size", type=int, default=64000)
    ap.add_argument("--parity-rounds", type=int, default=6)
    ap.add_argument("--out", type=Path, default=None, help="keep the tokenizers here")
    a = ap.parse_args()

    from tokkit import Tokenizer
    from tokkit.quality.inputs import load_tokenizer, parse_tokenizer_arg
    from tokkit.train import TrainOptions
    from tokkit.train.run import count_groups, resolve_sources, train
    from tokkit.train.options import pretokenizer_steps

    work = Path(a.out or tempfile.mkdtemp(prefix="multiling-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    base = TrainOptions(vocab_size=a.vocab_size)
    sources = resolve_sources(["corpus:gnome-help:*", "corpus:udhr:*"])
    (grouped,) = count_groups(sources, [pretokenizer_steps(base)], base)
    from tokkit.train.plan import CountPlan

    grouped.meta["count_plan"] = CountPlan.from_options(base, 1).to_dict()
    table = grouped.save(work / "by-language.parquet")
    count_s = time.perf_counter() - t0
    n_bytes = sum(g.text_bytes for g in grouped.groups)
    print(f"counted {n_bytes / 1e6:.1f} MB of text in {len(grouped.groups)} language groups in {count_s:.1f} s",
          file=sys.stderr)
    train_keys = {g.key for g in grouped.groups}
    units, english = heldout_units(), english_heldout()
    runs = {"proportional": {}, "temperature 3": {"temperature": 3.0}, "temperature 5": {"temperature": 5.0},
            "parity-aware": {"parity_iterations": a.parity_rounds, "parity_budget": 0.03}}
    rows = {}
    for name, kw in runs.items():
        t1 = time.perf_counter()
        res = train(TrainOptions(vocab_size=a.vocab_size, **kw), None, work / name.replace(" ", "-"), counts=table)
        secs = time.perf_counter() - t1
        rows[name] = {**measure(Tokenizer(res.vocab), units, train_keys, english), "train_s": secs,
                      "vocab": res.vocab.size}
        if "parity_iterations" in kw:
            rows[name]["rounds"] = res.manifest["counts"]["weighting"]["parity"]
        print(name, json.dumps(rows[name])[:400], file=sys.stderr)
    for name in ("llama3", "qwen2", "cl100k"):
        lt = load_tokenizer(*parse_tokenizer_arg(name))
        if lt.tokenizer is None:
            raise SystemExit(f"{name}: {lt.error}")
        rows[name] = {**measure(lt.tokenizer, units, train_keys, english), "vocab": lt.tokenizer.vocab.size}
    (work / "results.json").write_text(json.dumps(rows, indent=1))
    _print(rows, a.vocab_size)


def _print(rows: dict, vocab: int) -> None:
    prop = rows["proportional"]["english_tokens"]
    print("\n| tokenizer | vocab | Gini, training languages | Gini, all 521 UDHR | English bytes/token | "
          "English tokens vs proportional | Hindi | Arabic | Chinese | train s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['vocab']:,} | {r['gini_train_langs']:.4f} | {r['gini_all_udhr']:.4f} | "
              f"{r['english_bytes_per_token']:.3f} | {(r['english_tokens'] / prop - 1) * 100:+.1f}% | "
              f"{r['premium_hin']:.2f} | {r['premium_arb']:.2f} | {r['premium_cmn_hans']:.2f} | "
              f"{r.get('train_s', float('nan')):.1f} |")
    if "rounds" in rows.get("parity-aware", {}):
        print("\nparity-aware rounds (Gini over the training languages' UDHR train articles):")
        for rec in rows["parity-aware"]["rounds"]:
            print(f"  round {rec['round']}: Gini {rec['gini']:.4f}, English {rec['pivot_growth'] * 100:+.2f}%, "
                  f"step {rec['step']}, {'ok' if rec['within_budget'] else 'over budget'}")


if __name__ == "__main__":
    main()
