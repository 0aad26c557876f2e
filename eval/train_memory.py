"""Memory of training from a count table (`tokkit train --counts`), per distinct pretoken.

    .venv/bin/python eval/train_memory.py [--vocab 32000] [--vocabs 8000,32000,64000] [--stage2]

1. A mixed corpus: the documents of every built cached corpus (every language) and the legal
   corpus (split "all"), taken in turn one document from each. Its pretokens (Llama-3 regex, the
   `bpe` default) are counted in one pass; at 1, 2, 4, ... MB of text the table so far is saved,
   which gives the growth of distinct pretokens with corpus size (fitted as Heaps' law
   D = K * n^beta) and tables of increasing size.
2. Each table is trained from (`tokkit.train.train(opts, None, out, counts=TABLE)`, the whole
   `tokkit train --counts` path: load the Parquet table, merge loop, write the files) in a fresh
   process; its peak RSS is the process's VmHWM (/proc/self/status). Also measured: a process that only imports
   (the constant) and one that only loads the largest table (the Python side of the table).
3. Least squares: peak RSS = a + b * distinct pretokens at --vocab; the largest table at every
   size of --vocabs shows the dependence on the vocabulary size.
4. What fits in 24 GB and 512 GB: distinct pretokens (RAM - a) / b, the trainer's own limit of
   2^31 - 2 symbols (bytes of the distinct pretokens), and the corpus size that gives that many
   distinct pretokens by the fitted growth (an extrapolation far beyond the measured range).

``--stage2`` also measures SuperBPE stage-2 tables (the 'current' stage-2 regex: long
pretokens) of the same prefixes, trained as SuperBPE from both tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1 << 20
GB = 1 << 30
MAX_SYMBOLS = (2**32 - 1) // 2 - 1  # native/src/train.rs MAX_SYMBOLS


def corpus_streams() -> list[tuple[str, object]]:
    """(name, iterator of documents) for every available corpus, per language where it has them."""
    from tokkit import corpora

    out = [("legal", corpora.open_corpus("legal", split="all"))]
    for info in corpora.list_corpora():
        if info.kind != "cached" or not info.available:
            continue
        langs = corpora.corpus_languages(info.name)
        for lang in langs or [None]:
            name = info.name if lang is None else f"{info.name}:{lang}"
            out.append((name, corpora.open_corpus(info.name, lang, split="all")))
    return out


def interleaved(streams):
    """One document from each stream in turn until all are exhausted."""
    live = list(streams)
    while live:
        nxt = []
        for name, it in live:
            doc = next(it, None)
            if doc is not None:
                yield doc
                nxt.append((name, it))
        live = nxt


def count_prefixes(work: Path, plans: dict, first_mb: int) -> list[dict]:
    """Count the mixed corpus once per plan; save each plan's table at 1, 2, 4... MB of text and
    at the end. Returns one row per prefix: text bytes, distinct pretokens and table paths."""
    from tokkit.counts import _from_counter

    counters = {k: p.counter() for k, p in plans.items()}
    transforms = {k: p.transform() for k, p in plans.items()}
    assert not any(transforms.values())  # the bpe/superbpe defaults count texts as they are
    rows: list[dict] = []
    size, batch, bsize = 0, [], 0
    mark = first_mb * MB

    def snapshot():
        row = {"text_bytes": size, "tables": {}}
        for k, c in counters.items():
            t = plans[k].stamp(_from_counter(c, list(plans[k].pretokenizer), {"text_bytes": size}))
            path = work / f"{k}-{size // MB:05d}MB.parquet"
            t.save(path)
            row["tables"][k] = {"path": str(path), "distinct": len(t),
                                "symbols": sum(len(p) for p in t.pieces)}
        rows.append(row)
        print(f"  {size / MB:8.1f} MB: " + ", ".join(f"{k} {r['distinct']:,} distinct"
                                                    for k, r in row["tables"].items()), flush=True)

    for doc in interleaved(corpus_streams()):
        n = len(doc.encode("utf-8", "surrogatepass"))
        batch.append(doc)
        bsize += n
        if bsize >= 4 * MB or size + bsize >= mark:
            for c in counters.values():
                c.add_texts(batch)
            size += bsize
            batch, bsize = [], 0
            if size >= mark:
                snapshot()
                mark *= 2
    if batch:
        for c in counters.values():
            c.add_texts(batch)
        size += bsize
    if not rows or rows[-1]["text_bytes"] != size:
        snapshot()
    return rows


_ROT13 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                         b"NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm")
_ROT5 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                        b"FGHIJKLMNOPQRSTUVWXYZABCDEfghijklmnopqrstuvwxyzabcde")
#: byte-level rewritings of a pretoken (each one-to-one): reversed, case swapped, letters rotated
_VARIANTS = [lambda p: p, lambda p: p[::-1], bytes.swapcase, lambda p: p.translate(_ROT13)]


def _variant(k: int):
    """The k-th combination of the rewritings (k < 16)."""
    steps = [f for bit, f in zip((1, 2, 4), _VARIANTS[1:]) if k & bit]
    if k & 8:
        steps.append(lambda p: p.translate(_ROT5))

    def apply(p: bytes) -> bytes:
        for f in steps:
            p = f(p)
        return p

    return apply


def scaled_tables(work: Path, plan, row: dict, factors: list[int]) -> list[dict]:
    """Tables beyond the corpus: the largest table plus copies of it rewritten byte by byte
    (reversed, case swapped, letters rotated), each copy new distinct pretokens with the same
    length distribution and counts."""
    from tokkit.counts import CountTable, merge

    src = CountTable.load(row["tables"]["bpe"]["path"])
    out = []
    for f in factors:
        parts = [CountTable(pieces=[_variant(k)(p) for p in src.pieces], counts=src.counts,
                            pretokenizer=src.pretokenizer, meta=dict(src.meta)) for k in range(f)]
        t = plan.stamp(merge(parts))
        del parts
        path = work / f"bpe-x{f}.parquet"
        t.save(path)
        out.append({"text_bytes": row["text_bytes"], "scale": f,
                    "tables": {"bpe": {"path": str(path), "distinct": len(t),
                                       "symbols": sum(len(p) for p in t.pieces)}}})
        print(f"  x{f}: {len(t):,} distinct", flush=True)
    return out


CHILD = r"""
import json, re, sys, tempfile
mode, args = sys.argv[1], json.loads(sys.argv[2])
from tokkit.counts import CountTable
from tokkit.train import TrainOptions, train

def status(key):
    return int(re.search(key + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024

res = {"imports": status("VmHWM")}
open("/proc/self/clear_refs", "w").write("5")  # restart the high-water mark: the peak of what follows
if mode == "load":
    t = CountTable.load(args["counts"])
elif mode == "train":
    with tempfile.TemporaryDirectory() as d:
        r = train(TrainOptions(**args["opts"]), None, d + "/out", counts=args["counts"],
                  counts_stage2=args.get("counts_stage2"))
        res.update(size=r.vocab.size, timings=r.manifest["timings"])
res["peak"] = max(res["imports"], status("VmHWM"))
print(json.dumps(res))
"""


def measure(mode: str, **args) -> dict:
    """Run one measurement in a fresh process; its peak RSS (VmHWM of the process image, so
    nothing of this parent's memory is counted, as ru_maxrss would after fork) and wall time."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, mode, json.dumps(args)], capture_output=True)
    if proc.returncode:
        raise SystemExit(f"child {mode} failed:\n{proc.stderr.decode()[-2000:]}")
    res = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t
    return res


def fit_line(x: list[float], y: list[float]) -> tuple[float, float, float]:
    """Least squares y = a + b x; (a, b, R^2)."""
    import numpy as np

    X = np.column_stack([np.ones(len(x)), np.asarray(x, float)])
    (a, b), *_ = np.linalg.lstsq(X, np.asarray(y, float), rcond=None)
    pred = X @ [a, b]
    ss = float(((np.asarray(y) - np.mean(y)) ** 2).sum())
    return float(a), float(b), 1 - float(((np.asarray(y) - pred) ** 2).sum()) / ss if ss else 1.0


def fit_heaps(n: list[float], d: list[float]) -> tuple[float, float]:
    """D = K n^beta by least squares in log-log; (K, beta)."""
    import math

    a, b, _ = fit_line([math.log(x) for x in n], [math.log(x) for x in d])
    return math.exp(a), b


def human(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, default=32000, help="vocabulary size of the fit")
    ap.add_argument("--vocabs", default="8000,32000,64000,128000", help="sizes tried on the largest table")
    ap.add_argument("--first-mb", type=int, default=1, help="first prefix size (then doubling)")
    ap.add_argument("--scale", default="2,4,8", help="tables of the whole corpus times these factors "
                    "(byte-rewritten copies of its pretokens; 16 at most)")
    ap.add_argument("--stage2", action="store_true", help="also SuperBPE (stage-2 tables)")
    ap.add_argument("--work", help="directory for the tables (default: a temporary one)")
    a = ap.parse_args()

    from tokkit.train import TrainOptions
    from tokkit.train.plan import CountPlan

    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="train_memory."))
    work.mkdir(parents=True, exist_ok=True)
    plans = {"bpe": CountPlan.from_options(TrainOptions())}
    if a.stage2:
        plans["stage2"] = CountPlan.from_options(TrainOptions(algo="superbpe"), stage=2)
    print(f"counting the mixed corpus into {work}", flush=True)
    t0 = time.perf_counter()
    rows = count_prefixes(work, plans, a.first_mb)
    print(f"  counted in {time.perf_counter() - t0:.1f} s", flush=True)

    factors = [int(x) for x in a.scale.split(",") if x]
    rows += scaled_tables(work, plans["bpe"], rows[-1], factors)
    base = measure("none")
    big = rows[-1]["tables"]["bpe"]
    load = measure("load", counts=big["path"])
    print(f"imports only: {base['peak'] / MB:.0f} MB; loading the largest table ({big['distinct']:,} distinct): "
          f"{load['peak'] / MB:.0f} MB", flush=True)

    for r in rows:
        t = r["tables"]["bpe"]
        t["run"] = measure("train", counts=t["path"], opts={"vocab_size": a.vocab})
        print(f"  bpe {t['distinct']:>10,} distinct: {t['run']['peak'] / MB:7.0f} MB, {t['run']['wall']:.1f} s",
              flush=True)
        if a.stage2 and "stage2" in r["tables"]:
            s = r["tables"]["stage2"]
            s["run"] = measure("train", counts=t["path"], counts_stage2=s["path"],
                               opts={"algo": "superbpe", "vocab_size": a.vocab})
            print(f"  superbpe stage 2 {s['distinct']:>10,} distinct: {s['run']['peak'] / MB:7.0f} MB", flush=True)
    by_vocab = {}
    for v in [int(x) for x in a.vocabs.split(",") if x]:
        by_vocab[v] = measure("train", counts=big["path"], opts={"vocab_size": v})
        print(f"  vocab {v:,}: {by_vocab[v]['peak'] / MB:.0f} MB, {by_vocab[v]['size']:,} tokens", flush=True)
    report(a, rows, base, load, big, by_vocab)


def report(a, rows, base, load, big, by_vocab) -> None:
    real = [r for r in rows if "scale" not in r]  # measured text (not rewritten copies)
    n = [r["text_bytes"] for r in real]
    d = [r["tables"]["bpe"]["distinct"] for r in real]
    fit_rows = [r for r in rows if r["tables"]["bpe"]["distinct"] >= 100_000] or rows
    x = [r["tables"]["bpe"]["distinct"] for r in fit_rows]
    y = [r["tables"]["bpe"]["run"]["peak"] for r in fit_rows]
    ca, cb, r2 = fit_line(x, y)
    K, beta = fit_heaps(n, d)
    # the tail of the growth (the last half of the prefixes) predicts large corpora better
    half = len(n) // 2
    K2, beta2 = fit_heaps(n[half:], d[half:]) if len(n) - half >= 2 else (K, beta)
    avg_len = big["symbols"] / big["distinct"]

    print(f"\n### Merge-loop memory (bpe, vocab {a.vocab:,}; peak RSS of the whole `train --counts` process)\n")
    print("| corpus prefix | distinct pretokens | bytes in them | peak RSS | per distinct pretoken (above imports) "
          "| train time |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        t = r["tables"]["bpe"]
        per = (t["run"]["peak"] - base["peak"]) / t["distinct"]
        what = f"{r['text_bytes'] / MB:,.1f} MB" + (f" x{r['scale']} (rewritten copies)" if "scale" in r else "")
        print(f"| {what} | {t['distinct']:,} | {t['symbols'] / MB:,.1f} MB "
              f"| {t['run']['peak'] / MB:,.0f} MB | {per:,.0f} B | {t['run']['wall']:.1f} s |")
    if "stage2" in rows[0]["tables"]:
        print("\n| corpus prefix | stage-2 distinct pretokens | bytes in them | SuperBPE peak RSS |")
        print("|---|---|---|---|")
        for r in real:
            s = r["tables"]["stage2"]
            print(f"| {r['text_bytes'] / MB:,.1f} MB | {s['distinct']:,} | {s['symbols'] / MB:,.1f} MB "
                  f"| {s['run']['peak'] / MB:,.0f} MB |")
    print(f"\nFit over tables of 100K+ distinct pretokens: peak RSS = {ca / MB:,.0f} MB + {cb:,.0f} B x distinct "
          f"pretokens (R^2 = {r2:.4f}); imports alone {base['peak'] / MB:.0f} MB; loading the largest table alone "
          f"{load['peak'] / MB:,.0f} MB ({(load['peak'] - base['peak']) / big['distinct']:,.0f} B per distinct "
          f"pretoken). Mean pretoken length {avg_len:.2f} bytes.")
    print(f"\n### Vocabulary size (largest table, {big['distinct']:,} distinct)\n")
    print("| vocab asked | vocab reached | peak RSS |")
    print("|---|---|---|")
    for v, m in by_vocab.items():
        print(f"| {v:,} | {m['size']:,} | {m['peak'] / MB:,.0f} MB |")
    print(f"\n### Growth of distinct pretokens (mixed corpus)\n\nD = {K:,.1f} x n^{beta:.3f} over all prefixes; "
          f"over the larger half: D = {K2:,.1f} x n^{beta2:.3f} (n in bytes of text).\n")
    print("| RAM | distinct pretokens that fit | trainer limit (2^31 symbols) | corpus giving that many "
          f"(beta {beta2:.2f}) |")
    print("|---|---|---|---|")
    limit = MAX_SYMBOLS / avg_len
    for ram in (24 * GB, 512 * GB):
        dmax = (ram - ca) / cb
        use = min(dmax, limit)
        corpus = (use / K2) ** (1 / beta2)
        print(f"| {ram // GB} GB | {dmax / 1e6:,.0f} M | {limit / 1e6:,.0f} M | {human(corpus)} |")
    if "stage2" in real[0]["tables"]:
        report_stage2(real)


def report_stage2(real: list[dict]) -> None:
    """SuperBPE: its stage-2 pretokens are whole lines, so memory follows the bytes of the
    stage-2 table, and those grow almost like the corpus."""
    rows = [r for r in real if r["tables"]["stage2"]["distinct"] >= 100_000] or real
    b2 = [r["tables"]["stage2"]["symbols"] for r in rows]
    ca, cb, r2 = fit_line(b2, [r["tables"]["stage2"]["run"]["peak"] for r in rows])
    K, beta = fit_heaps([r["text_bytes"] for r in real], [r["tables"]["stage2"]["symbols"] for r in real])
    print(f"\n### SuperBPE from its two tables\n\nFit over stage-2 tables of 100K+ distinct pretokens: peak RSS = "
          f"{ca / MB:,.0f} MB + {cb:,.1f} B x bytes of the stage-2 table (R^2 = {r2:.4f}); stage-2 table bytes = "
          f"{K:,.2f} x n^{beta:.3f} (n: bytes of text).\n")
    print("| RAM | stage-2 table bytes that fit | corpus giving that much |")
    print("|---|---|---|")
    for ram in (24 * GB, 512 * GB):
        bmax = (ram - ca) / cb
        print(f"| {ram // GB} GB | {human(bmax)} | {human((bmax / K) ** (1 / beta))} |")


if __name__ == "__main__":
    main()
