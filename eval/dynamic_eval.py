"""Dynamic tokenization on SmolLM2-135M (issue: dynamic): sequence-length reduction against
bits-per-byte change, per merge budget, for merged-token rows from the hypernetwork and from FVT
(the mean of the pieces' rows, no training); prefill wall time; generation over a dynamic output
vocabulary of 100k+ whole words through the HNSW index against the full softmax.

Texts the hypernetwork never saw: held-out English (SPDX licences held-out split; the King James
Bible held-out split), held-out German (GNOME help, held-out split) and the UDHR in 24 more
languages of 14 scripts. Each text is cut into chunks of ~1000 characters; each chunk's first half
is the prompt (dynamic tokens), the second half the continuation (the model's own tokens, the
same ids at every budget, so bits per byte compare exactly). The premium is a language's static
token count over English's on the parallel UDHR articles (tokkit report's premium).

The hypernetwork: `tokkit hypernet train SMOLLM2 --sampler dynamic --steps 160 --batch 8
--seq-len 128 --corpus corpus:gnome-help:{en,de,es,fr,ru,el,hi,fa,zh_CN} --corpus corpus:kjv
--corpus corpus:legal --out ~/.cache/tokkit/eval/dynamic/hn-dynamic` (train splits only).

    .venv/bin/python eval/dynamic_eval.py --hypernet ~/.cache/tokkit/eval/dynamic/hn-dynamic
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

UDHR = ["fra", "spa", "pol", "fin", "hun", "tur", "vie", "ind", "swh", "rus", "ukr", "ell", "arb", "heb", "hin",
        "ben", "tam", "tha", "kat", "hye", "amh", "jpn", "cmn", "kor"]


def chunks_of(texts, chars: int, n: int) -> list[str]:
    from tokkit.dynamic import chunk_text

    return chunk_text("\n\n".join(texts), chars)[:n]


def held_out(chars: int, n: int) -> dict[str, list[str]]:
    from tokkit import corpora

    out = {"en (legal)": chunks_of(corpora.open_corpus("legal", split="heldout"), chars, n),
           "en (KJV)": chunks_of(corpora.open_corpus("kjv", split="heldout"), chars, n),
           "de (GNOME help)": chunks_of(corpora.open_corpus("gnome-help", "de", split="heldout"), chars, n)}
    for k in UDHR:
        out[f"{k} (UDHR)"] = chunks_of(corpora.udhr(k), chars, n)
    return out


def premiums(tok) -> dict[str, float]:
    from tokkit import corpora

    par = corpora.udhr_parallel(["eng", *UDHR])
    n = {k: sum(len(tok.encode(t, special="text")) for t in v) for k, v in par.items()}
    eng = n[corpora.udhr_entry("eng")["key"]]
    return {k: n[corpora.udhr_entry(k)["key"]] / eng for k in UDHR}


def prefill_table(model, tok, rows_by, texts, budgets) -> list[dict]:
    from tokkit.dynamic import score

    out = []
    for name, ts in texts.items():
        static = None
        for emb, rows in rows_by.items():
            for b in budgets:
                if b == 0 and static is not None:
                    continue
                r = score(model, tok, rows, ts, b, mode="prefill", batch_size=16).as_dict()
                if b == 0:
                    static = r
                rec = {"text": name, "embeddings": "static" if b == 0 else emb, "budget": str(b),
                       "prompt_reduction": r["prompt_reduction"], "bits_per_byte": r["bits_per_byte"],
                       "vs_static": r["bits_per_byte"] / static["bits_per_byte"] - 1}
                out.append(rec)
                print(json.dumps(rec), file=sys.stderr)
    return out


def union_table_rows(model, tok, rows_by, texts, budgets) -> list[dict]:
    from tokkit.dynamic import score

    out = []
    for name, ts in texts.items():
        for emb, rows in rows_by.items():
            for b in budgets:
                r = score(model, tok, rows, ts, b, mode="union", batch_size=16).as_dict()
                out.append({"text": name, "embeddings": emb, "budget": str(b), "reduction": r["reduction"],
                            "bits_per_byte": r["bits_per_byte"]})
                print(json.dumps(out[-1]), file=sys.stderr)
    return out


def prefill_time(model, tok, rows, texts, repeat: int = 3) -> dict:
    """Forward time of the prompts alone: static, and dynamic plus the merging and the rows
    (the hypernetwork's cost, cache emptied) at word level."""
    import numpy as np
    import torch

    from tokkit.dynamic import merge_batch, split_prompt
    from tokkit.lm import hidden_states, prefix_id

    prompts = [split_prompt(t)[0] for t in texts]
    pid = prefix_id(tok)

    def forward(table, seqs):
        t0 = time.perf_counter()
        with torch.inference_mode():
            for s in seqs:
                hidden_states(model, table, torch.as_tensor(np.concatenate([[pid], s]).astype(np.int64))[None])
        return time.perf_counter() - t0

    static = [tok.encode(p, special="text") for p in prompts]
    best = {"static_s": [], "dynamic_forward_s": [], "merge_s": [], "rows_s": []}
    for _ in range(repeat):
        best["static_s"].append(forward(rows.base, static))
        rows.cache.clear()
        t0 = time.perf_counter()
        batch = merge_batch(prompts, tok, "word", max_pieces=rows.max_pieces)
        t1 = time.perf_counter()
        table = rows.split(rows.rows(batch))[0]
        t2 = time.perf_counter()
        best["merge_s"].append(t1 - t0)
        best["rows_s"].append(t2 - t1)
        best["dynamic_forward_s"].append(forward(table, batch.ids))
    res = {k: min(v) for k, v in best.items()}
    res["static_tokens"] = int(sum(len(s) for s in static))
    res["dynamic_tokens"] = int(batch.lengths.sum())
    res["dynamic_total_s"] = res["dynamic_forward_s"] + res["merge_s"] + res["rows_s"]
    return res


def generation(model, tok, rows, vocab_texts, held, size: int, new_tokens: int) -> dict:
    from tokkit.dynamic import OutputIndex, ann_bits, generate, union_table, word_vocabulary

    t0 = time.perf_counter()
    vocab = word_vocabulary(vocab_texts, tok, size, max_pieces=rows.max_pieces)
    tables = union_table(rows, vocab)
    t1 = time.perf_counter()
    index = OutputIndex(tables[1], exact=rows.base.shape[0])
    res = {"vocab": len(vocab), "rows_s": t1 - t0, "index_build_s": index.build_seconds}
    prompts = ["The licensee shall", "And the LORD said unto", "Die Software ist"]
    for name, idx in (("exact", None), ("hnsw", index)):
        n, secs = 0, 0.0
        for p in prompts:
            g = generate(model, tok, rows, p, vocab, new_tokens, index=idx, tables=tables)
            n, secs = n + len(g.ids), secs + g.seconds
            res.setdefault(f"sample_{name}", []).append(p + g.text)
        res[f"tokens_per_second_{name}"] = n / secs
    res.update(ann_bits(model, tok, rows, held, vocab, index, tables=tables))
    from tokkit.lm import bits_per_byte

    res["static_bits_per_byte"] = bits_per_byte(model, tok, held)["bits_per_byte"]
    return res


def markdown(res: dict) -> str:
    """The tables of docs/benchmarks.md from a results file."""
    out = []
    if "prefill" in res:
        out += ["| text | rows | budget | prompt reduction | bits/byte | vs static |", "|---|---|---|---|---|---|"]
        out += [f"| {r['text']} | {r['embeddings']} | {r['budget']} | {r['prompt_reduction']:.1%} | "
                f"{r['bits_per_byte']:.4f} | {r['vs_static']:+.1%} |" for r in res["prefill"]]
    if "udhr" in res:
        prem = res.get("premium", {})
        out += ["", "| language | premium | budget | prompt reduction (hypernet) | vs static: hypernet | FVT |",
                "|---|---|---|---|---|---|"]
        by = {}
        for r in res["udhr"]:
            by.setdefault((r["text"], r["budget"]), {})[r["embeddings"]] = r
        for (text, budget), d in by.items():
            if budget == "0":
                continue
            h, f = d.get("hypernet", d.get("fvt")), d.get("fvt")
            out.append(f"| {text.split()[0]} | {prem.get(text.split()[0], float('nan')):.2f} | {budget} | "
                       f"{h['prompt_reduction']:.1%} | {h['vs_static']:+.1%} | {f['vs_static']:+.1%} |")
    if "union" in res:
        out += ["", "| text | rows | budget | sequence reduction | bits/byte |", "|---|---|---|---|---|"]
        out += [f"| {r['text']} | {r['embeddings']} | {r['budget']} | {r['reduction']:.1%} | {r['bits_per_byte']:.4f} |"
                for r in res["union"]]
    if "prefill_time" in res:
        t = res["prefill_time"]
        out += ["", f"prefill of 16 prompts: static {t['static_s']:.2f} s ({t['static_tokens']} tokens); dynamic "
                f"{t['dynamic_total_s']:.2f} s ({t['dynamic_tokens']} tokens: forward {t['dynamic_forward_s']:.2f} s, "
                f"merging {t['merge_s']:.3f} s, rows {t['rows_s']:.3f} s)"]
    if "generate" in res:
        g = res["generate"]
        out += ["", f"generation over {g['vocab']:,} words + the model's vocabulary: "
                f"{g['tokens_per_second_hnsw']:.1f} tokens/s (index) vs {g['tokens_per_second_exact']:.1f} (full "
                f"softmax); bits/byte {g['bits_per_byte_ann']:.4f} (index estimate) vs {g['bits_per_byte_full']:.4f} "
                f"(full), static {g.get('static_bits_per_byte', float('nan')):.4f}; index top-1 = full top-1 for {g['top1_agreement']:.1%} of {g['tokens']} tokens; index "
                f"build {g['index_build_s']:.0f} s"]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hypernet", type=Path)
    ap.add_argument("--chars", type=int, default=1000)
    ap.add_argument("--chunks", type=int, default=16)
    ap.add_argument("--budgets", default="0,50,200,30%,word")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: prefill,udhr,union,time,generate")
    ap.add_argument("--vocab-size", type=int, default=100_000)
    ap.add_argument("--json", type=Path, default=Path.home() / ".cache/tokkit/eval/dynamic/results.json")
    ap.add_argument("--tables", action="store_true", help="print the tables of the results file and stop")
    args = ap.parse_args()
    if args.tables:
        print(markdown(json.loads(args.json.read_text())))
        return
    import torch

    torch.set_num_threads(2)
    from tokkit import assets, corpora
    from tokkit.dynamic import MergedRows
    from tokkit.lm import load_model

    model, tok = load_model(assets.smollm2_gguf())
    rows_by = {"fvt": MergedRows(model)}
    if args.hypernet:
        rows_by["hypernet"] = MergedRows(model, args.hypernet)
    budgets = [int(b) if b.isdigit() else b for b in args.budgets.split(",")]
    texts = held_out(args.chars, args.chunks)
    skip = set(args.skip.split(","))
    res = json.loads(args.json.read_text()) if args.json.exists() else {}
    main3 = {k: v for k, v in texts.items() if "UDHR" not in k}
    if "prefill" not in skip:
        res["prefill"] = prefill_table(model, tok, rows_by, main3, budgets)
    if "udhr" not in skip:
        res["premium"] = premiums(tok)
        res["udhr"] = prefill_table(model, tok, rows_by, {k: v for k, v in texts.items() if "UDHR" in k},
                                    [0, "word"])
    if "union" not in skip:
        res["union"] = union_table_rows(model, tok, rows_by, main3, budgets)
    best = rows_by.get("hypernet", rows_by["fvt"])
    if "time" not in skip:
        res["prefill_time"] = prefill_time(model, tok, best, texts["en (legal)"])
        print(json.dumps(res["prefill_time"]), file=sys.stderr)
    if "generate" not in skip:
        vocab_texts = [t for name in ("kjv", "kernel-docs") for t in corpora.open_corpus(name)]
        vocab_texts += [t for lang in ("en", "de") for t in corpora.open_corpus("gnome-help", lang)]
        res["generate"] = generation(model, tok, best, vocab_texts, texts["en (legal)"][:6], args.vocab_size, 24)
        print(json.dumps(res["generate"]), file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1))
    print(markdown(res))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
