"""Trainer defaults sweep (issue: trainers): SuperBPE's stage-2 regex and transition, and the
domain trainer's options, measured on held-out text of each domain.

    nohup .venv/bin/python eval/trainer_sweep.py run > trainer_sweep.log 2>&1 &   # resumable
    .venv/bin/python eval/trainer_sweep.py run --stage2 paper --repeat 1   # re-time a subset
    .venv/bin/python eval/trainer_sweep.py table [--time cpu|wall]          # tables from the cache
    .venv/bin/python eval/trainer_sweep.py confirm --domains kernel-docs --sizes 32000,64000
        # the defaults (TrainOptions with nothing set): interleaved timings + real runs

Numbers and the defaults chosen from them: docs/train.md ("Measured defaults") and
docs/benchmarks.md ("Trainer defaults sweep").

For each domain (a cached corpus: its train split to train, its held-out split to measure) and
vocabulary size:

- plain BPE (the baseline, ``TrainOptions(algo="bpe")``), trained ``--bpe-repeats`` times;
- SuperBPE for every stage-2 regex (``--stage2``: the presets of
  ``tokkit.train.options.SUPERBPE_STAGE2_PRESETS`` and ``digits``, ``\\p{N}{1,3}`` alone) and
  every transition (``--fractions`` of the vocabulary), at each ``--max-words``;
- the domain trainer (``--algo domain``) with each variant of ``DOMAIN_VARIANTS`` on the
  ``--domain-corpora``.

Fast and exact: each count table is made once per (domain, count plan) with the run's own
``CountPlan`` (``tokkit.train.run.count_plans`` / ``count_many``: SuperBPE's two tables in one
pass over the corpus, as ``tokkit train`` counts them) and every configuration trains from the
tables (``train(opts, None, out, counts=T1, counts_stage2=T2)``, byte-identical to training on
the corpus). The count pass is timed separately (``--count-repeats`` passes), so a configuration's full
``tokkit train`` time is count time + its train-from-tables time (which includes writing the
files); ``confirm`` checks that sum against real runs on the corpus. On a shared machine other
work only ever adds time: the tables take the fastest count pass and the fastest run of each
configuration over the sweep's passes (``run --repeat 1`` re-times what it is given). ``table``
reports time ratios from CPU time by default (``--time wall``: wall-clock), which moves far less
than wall-clock time when other work shares the machine.

Reported per configuration: held-out tokens, the reduction vs plain BPE of the same size on the
same corpus, the actual vocabulary size (a small corpus runs out of pairs), and the full training
time relative to BPE's. Results are cached as one JSON file per configuration under ``--cache``
(default ``$TOKKIT_CACHE/sweeps/trainer``); a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tokkit  # noqa: E402
from tokkit import corpora  # noqa: E402
from tokkit.io import cache_dir  # noqa: E402
from tokkit.train import TrainOptions, train  # noqa: E402
from tokkit.train.domain import kl3m_added_tokens  # noqa: E402
from tokkit.train.options import SUPERBPE_STAGE2_PRESETS  # noqa: E402
from tokkit.train.run import count_many, count_plans, resolve_sources  # noqa: E402

#: stage-2 pretokenizers swept: the presets, and digits alone (1-3 digit runs split off)
STAGE2 = {**{k: k for k in SUPERBPE_STAGE2_PRESETS}, "digits": r"\p{N}{1,3}"}
#: domain-trainer variants (options on top of ``algo="domain"``): each changes one thing that
#: can matter for held-out tokens; ``pad`` must give the same tokens as ``default`` (padding only)
DOMAIN_VARIANTS: dict[str, dict] = {
    "default": {},
    "no-kl3m": {"kl3m_added": False},
    "nfc": {"normalization": "nfc"},
    "no-kl3m+nfc": {"kl3m_added": False, "normalization": "nfc"},
    "gpt2": {"preset": "gpt2"},
    "r2l3": {"digits": "r2l3"},
    "chars16": {"max_token_chars": 16},
    "pad": {"pad_pow2": True},
    # which KL3M tokens cost: all but the numbers (years 1776-2049 and 10-999), whitespace runs only
    "kl3m-no-numbers": {"kl3m_added": False,
                        "added_tokens": [t for t in kl3m_added_tokens() if not t.isdigit()]},
    "kl3m-ws-only": {"kl3m_added": False, "added_tokens": [t for t in kl3m_added_tokens() if not t.strip()]},
}
SWEEP_DOMAINS = "kernel-docs,cpython-stdlib,kjv,go-src"
DOMAIN_CORPORA = "legal,kernel-docs,cpython-stdlib"
SIZES = "16000,32000,64000,128000"
FRACTIONS = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
#: the time budget of a default: full training time at most this many times BPE's
TIME_LIMIT = 3.0


def _key(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class Sweep:
    def __init__(self, cache: Path, count_repeats: int = 3, bpe_repeats: int = 3, repeat: int = 0):
        self.cache = cache
        #: which pass of the sweep this is (0: the first; a later pass re-times every configuration)
        self.repeat = repeat
        self.count_repeats = count_repeats
        self.bpe_repeats = bpe_repeats
        cache.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="tokkit-sweep-"))
        self._tables: dict[str, list] = {}
        self._domain: str | None = None
        self._held: list[str] = []

    # -- cache -------------------------------------------------------------------------------
    def path(self, kind: str, ident: dict) -> Path:
        name = "-".join(str(ident[k]) for k in ("domain", "algo", "vocab", "label") if k in ident)
        return self.cache / kind / f"{name.replace('/', '_')}-{_key(ident)}.json"

    def load(self, kind: str, ident: dict) -> dict | None:
        p = self.path(kind, ident)
        return json.loads(p.read_text()) if p.exists() else None

    def save(self, kind: str, ident: dict, rec: dict) -> dict:
        p = self.path(kind, ident)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps({**ident, **rec}, indent=1))
        tmp.replace(p)
        return {**ident, **rec}

    # -- per domain --------------------------------------------------------------------------
    def enter(self, domain: str) -> None:
        if self._domain != domain:
            self._tables.clear()
            self._domain = domain
            self._held = list(corpora.open_corpus(domain, split="heldout"))

    def counted(self, domain: str, opts: TrainOptions) -> tuple[list, dict]:
        """The count tables of ``opts`` on the domain's train split (counted once per plan), and
        the count pass's timing record (cached: ``count_repeats`` passes)."""
        self.enter(domain)
        plans = count_plans(opts)
        fps = [p.fingerprint() for p in plans]
        ident = {"domain": domain, "plans": fps, "label": f"count{len(plans)}",
                 **({"repeat": self.repeat} if self.repeat else {})}
        rec = self.load("count", ident)
        need_tables = "+".join(fps) not in self._tables
        if rec is None or need_tables:
            sources = resolve_sources([f"corpus:{domain}"])
            walls, cpus, tables = [], [], None
            for i in range(self.count_repeats if rec is None else 1):
                c0, t0 = time.process_time(), time.perf_counter()
                tabs = count_many(sources, [p.pretokenizer for p in plans], opts, plans[0].transform(), None)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                if tables is None:
                    tables = [p.stamp(t) for p, t in zip(plans, tabs)]
                del tabs
            self._tables["+".join(fps)] = tables
            if rec is None:
                rec = self.save("count", ident, {
                    "wall_s": statistics.median(walls), "walls": walls, "cpus": cpus,
                    "distinct": [len(t) for t in tables], "pretokens": [t.total for t in tables],
                    "train_bytes": sum(s.info.get("text_bytes", 0) for s in sources),
                    "load": os.getloadavg()[0]})
                print(f"  count {domain} {[p.stage for p in plans]} {fps[-1][:8]}: {rec['wall_s']:.2f} s "
                      f"({', '.join(f'{w:.2f}' for w in walls)}), distinct {rec['distinct']}", flush=True)
        return self._tables["+".join(fps)], rec

    def run(self, domain: str, algo: str, vocab: int, config: dict, label: str, repeat: int | None = None) -> dict:
        """Train ``TrainOptions(algo, vocab, **config)`` from the domain's tables, count held-out
        tokens. Cached under (domain, algo, vocab, label, config, repeat): options the sweep does
        not set are the trainer's defaults of the day (clear the cache after changing them)."""
        repeat = self.repeat if repeat is None else repeat
        opts = TrainOptions(algo=algo, vocab_size=vocab, **config)
        ident = {"domain": domain, "algo": algo, "vocab": vocab, "label": label, "config": config, "repeat": repeat}
        rec = self.load("run", ident)
        if rec is not None:
            return rec
        tables, crec = self.counted(domain, opts)
        out = self.tmp / f"{label}-{opts.vocab_size}-{repeat}"
        kw = {"counts": tables[0], "counts_stage2": tables[1]} if len(tables) == 2 else {"counts": tables[0]}
        c0, t0 = time.process_time(), time.perf_counter()
        res = train(opts, None, out, force=True, **kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        tok = tokkit.load(out)
        n = sum(len(x) for x in tok.encode_batch(self._held))
        rec = self.save("run", ident, {
            "train_wall_s": wall, "train_cpu_s": cpu, "count_wall_s": crec["wall_s"],
            "full_s": crec["wall_s"] + wall, "timings": res.manifest["timings"],
            "vocab_actual": res.vocab.size, "warnings": res.manifest["warnings"],
            "heldout_tokens": n, "heldout_bytes": sum(len(t.encode()) for t in self._held),
            "counts": res.manifest["counts"], "options": opts.as_dict(), "load": os.getloadavg()[0],
            "when": time.time()})
        shutil.rmtree(out, ignore_errors=True)
        return rec

    def bpe(self, domain: str, vocab: int) -> dict:
        """BPE baseline: held-out tokens and the least full time over ``bpe_repeats`` runs."""
        recs = [self.run(domain, "bpe", vocab, {}, "bpe", self.repeat + r) for r in range(self.bpe_repeats)]
        return {"heldout_tokens": recs[0]["heldout_tokens"], "full_s": min(r["full_s"] for r in recs),
                "vocab_actual": recs[0]["vocab_actual"], "heldout_bytes": recs[0]["heldout_bytes"]}


def _csv(s: str) -> list[str]:
    return [x for x in s.split(",") if x]


def cmd_run(args, sw: Sweep) -> None:
    sizes = [int(x) for x in _csv(args.sizes)]
    fracs = [float(x) for x in _csv(args.fractions)]
    mws = [int(x) for x in _csv(args.max_words)]
    t_start = time.perf_counter()
    for domain in _csv(args.domains):
        print(f"== {domain} (SuperBPE)", flush=True)
        for vocab in sizes:
            base = sw.bpe(domain, vocab)
            for st2 in _csv(args.stage2):
                for mw in mws:
                    for f in fracs:
                        config = {"transition": int(round(vocab * f)), "stage2_regex": STAGE2[st2], "max_words": mw}
                        r = sw.run(domain, "superbpe", vocab, config, f"superbpe-{st2}-{f}-mw{mw}")
                        print(f"  {domain} {vocab} {st2} t={f} mw={mw}: "
                              f"{1 - r['heldout_tokens'] / base['heldout_tokens']:.1%} fewer, "
                              f"{r['full_s'] / base['full_s']:.2f}x BPE time, vocab {r['vocab_actual']} "
                              f"[{time.perf_counter() - t_start:.0f} s]", flush=True)
    for domain in _csv(args.domain_corpora):
        print(f"== {domain} (domain trainer)", flush=True)
        for vocab in sizes:
            base = sw.bpe(domain, vocab)
            for var in _csv(args.variants):
                r = sw.run(domain, "domain", vocab, DOMAIN_VARIANTS[var], f"domain-{var}")
                print(f"  {domain} {vocab} domain {var}: {1 - r['heldout_tokens'] / base['heldout_tokens']:.1%} "
                      f"fewer than BPE, {r['full_s'] / base['full_s']:.2f}x BPE time, vocab {r['vocab_actual']} "
                      f"[{time.perf_counter() - t_start:.0f} s]", flush=True)
    print(f"sweep done in {time.perf_counter() - t_start:.0f} s (results cached: this run's share)", flush=True)


def _all(sw: Sweep, kind: str) -> list[dict]:
    d = sw.cache / kind
    return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.exists() else []


def _grouped(sw: Sweep) -> list[dict]:
    """One record per configuration (domain, vocab, label), over its repeats: held-out tokens,
    and its full time as the fastest count pass + the fastest train-from-tables run (other work
    on the machine only ever adds time, so the minimum is the estimate), as wall-clock time
    (``full_s``) and as CPU time of the process (``cpu_s``)."""
    counts: dict = {}
    for c in _all(sw, "count"):
        k = (c["domain"], tuple(c["plans"]))
        old = counts.get(k, (float("inf"), float("inf")))
        counts[k] = (min(old[0], *c["walls"]), min(old[1], *c["cpus"]))
    groups: dict = {}
    for r in _all(sw, "run"):  # by label: records made before a new option field was added join the rest
        groups.setdefault((r["domain"], r["vocab"], r["label"]), []).append(r)
    known = {f.name for f in dataclasses.fields(TrainOptions)}
    out = []
    for (domain, _, _), rs in groups.items():
        opts = TrainOptions(**{k: v for k, v in rs[0]["options"].items() if k in known})
        plans = tuple(p.fingerprint() for p in count_plans(opts))
        count_wall, count_cpu = counts[(domain, plans)]
        r0 = rs[0]
        if len({r["heldout_tokens"] for r in rs}) != 1:
            raise SystemExit(f"{domain} {r0['label']}: repeats disagree on held-out tokens")
        out.append({**{k: r0[k] for k in ("domain", "algo", "vocab", "label", "options", "heldout_tokens",
                                          "heldout_bytes", "vocab_actual", "warnings")},
                    "repeats": len(rs), "count_s": count_wall, "count_cpu_s": count_cpu,
                    "full_s": count_wall + min(r["train_wall_s"] for r in rs),
                    "cpu_s": count_cpu + min(r["train_cpu_s"] for r in rs)})
    return out


def _stage2_name(regex: str) -> str:
    return next((k for k, v in STAGE2.items() if regex in (k, v)), regex)


def _cell(r: dict, b: dict, key: str, vocab: int) -> str:
    short = "*" if r["vocab_actual"] < vocab and not r["options"].get("pad_pow2") else ""
    return f"{1 - r['heldout_tokens'] / b['heldout_tokens']:+.1%} {r[key] / b[key]:.1f}x{short}".lstrip("+")


def cmd_table(args, sw: Sweep) -> None:
    runs = _grouped(sw)
    key = {"cpu": "cpu_s", "wall": "full_s"}[args.time]
    bpe = {(r["domain"], r["vocab"]): r for r in runs if r["algo"] == "bpe"}
    sup: dict = {}
    for r in runs:
        if r["algo"] == "superbpe":
            o = r["options"]
            k = (r["domain"], r["vocab"], _stage2_name(o["stage2_regex"]), o["max_words"])
            sup.setdefault(k, {})[round(o["transition"] / o["vocab_size"], 3)] = r
    fracs = sorted({f for v in sup.values() for f in v})
    domains = list(dict.fromkeys(k[0] for k in sup))
    sizes = sorted({k[1] for k in sup})
    names = [n for n in STAGE2 if any(k[2] == n for k in sup)]
    mws = sorted({k[3] for k in sup})
    what = {"cpu": "CPU time of the process", "wall": "wall-clock time"}[args.time]

    print("### SuperBPE vs BPE: held-out tokens and training time\n")
    print("Each cell: how many fewer held-out tokens than plain BPE of the same size on the same corpus, "
          f"then the full training time (count + merges + files; {what}, the fastest of the passes) as a "
          "multiple of BPE's. `t`: the transition as a fraction of the vocabulary size. `*`: the corpus ran "
          "out of pairs (the vocabulary is smaller than asked).\n")
    print("| corpus | vocab | stage 2 | max words | " + " | ".join(f"t={f:g}" for f in fracs) + " |")
    print("|---" * (4 + len(fracs)) + "|")
    for d in domains:
        for v in sizes:
            for name in names:
                for mw in mws:
                    row, b = sup.get((d, v, name, mw)), bpe.get((d, v))
                    if row and b:
                        print(f"| {d} | {v // 1000}k | {name} | {mw} | "
                              + " | ".join(_cell(row[f], b, key, v) if f in row else "" for f in fracs) + " |")

    print("\n### BPE baseline\n")
    print("| corpus | vocab | actual vocab | held-out bytes/token | full time (wall) | of which counting | CPU time |")
    print("|---|---|---|---|---|---|---|")
    for (d, v), b in sorted(bpe.items()):
        print(f"| {d} | {v // 1000}k | {b['vocab_actual']:,} | {b['heldout_bytes'] / b['heldout_tokens']:.3f} | "
              f"{b['full_s']:.2f} s | {b['count_s']:.2f} s | {b['cpu_s']:.2f} s |")

    decide = [d for d in _csv(args.decide_on) if d in domains]
    print(f"\n### Best SuperBPE configuration per vocabulary size (max words 4; mean over {', '.join(decide)})\n")
    print(f"Per stage-2 regex: the transition with the largest mean reduction whose time is at most "
          f"{TIME_LIMIT:g}x BPE's on every one of these corpora (else the fastest), and the best overall.\n")
    print("| vocab | stage 2 | t | mean reduction | per corpus | time vs BPE (worst corpus) |")
    print("|---|---|---|---|---|---|")
    for v in sizes:
        for name in names:
            cands = []
            for f in fracs:
                rs = {d: sup.get((d, v, name, 4), {}).get(f) for d in decide}
                if any(r is None or (d, v) not in bpe for d, r in rs.items()):
                    continue
                red = {d: 1 - r["heldout_tokens"] / bpe[(d, v)]["heldout_tokens"] for d, r in rs.items()}
                ratio = max(r[key] / bpe[(d, v)][key] for d, r in rs.items())
                cands.append((ratio <= TIME_LIMIT, statistics.mean(red.values()) if ratio <= TIME_LIMIT else -ratio,
                              f, red, ratio))
            if not cands:
                continue
            ok, _, f, red, ratio = max(cands)
            print(f"| {v // 1000}k | {name} | {f:g} | {statistics.mean(red.values()):.1%} | "
                  + ", ".join(f"{d} {x:.1%}" for d, x in red.items())
                  + f" | {ratio:.2f}x{'' if ok else ' (over the limit at every t: the fastest)'} |")

    dom: dict = {}
    for r in runs:
        if r["algo"] == "domain":
            dom.setdefault((r["domain"], r["vocab"]), {})[r["label"].removeprefix("domain-")] = r
    if dom:
        variants = [v for v in DOMAIN_VARIANTS if any(v in x for x in dom.values())]
        print("\n### Domain trainer vs plain BPE: held-out tokens (fewer, %; negative: more) and time\n")
        print("| corpus | vocab | " + " | ".join(variants) + " |")
        print("|---" * (2 + len(variants)) + "|")
        for (d, v), row in sorted(dom.items()):
            if (d, v) in bpe:
                print(f"| {d} | {v // 1000}k | "
                      + " | ".join(_cell(row[x], bpe[(d, v)], key, v) if x in row else "" for x in variants) + " |")


def _timed_full(domain: str, opts: TrainOptions, out: Path) -> dict:
    """One full run as a count pass + training from its tables: wall and CPU seconds of each."""
    plans = count_plans(opts)
    sources = resolve_sources([f"corpus:{domain}"])
    c0, t0 = time.process_time(), time.perf_counter()
    tabs = count_many(sources, [p.pretokenizer for p in plans], opts, plans[0].transform(), None)
    count = (time.perf_counter() - t0, time.process_time() - c0)
    tabs = [p.stamp(t) for p, t in zip(plans, tabs)]
    kw = {"counts": tabs[0], "counts_stage2": tabs[1]} if len(tabs) == 2 else {"counts": tabs[0]}
    c0, t0 = time.process_time(), time.perf_counter()
    train(opts, None, out, force=True, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"count_s": count[0], "count_cpu_s": count[1], "wall_s": count[0] + wall, "cpu_s": count[1] + cpu}


def cmd_confirm(args, sw: Sweep) -> None:
    """The defaults (``TrainOptions(algo="superbpe", vocab_size=V)``, nothing else given) vs BPE:
    count + train-from-tables timed ``--repeats`` times, interleaved (BPE, SuperBPE, BPE, ...) so
    that load on the machine hits both alike (the fastest of each is reported); then one real
    run of each on the corpus (``train(opts, ["corpus:NAME"], out)``, what ``tokkit train``
    runs) to check that count + merges is the real total."""
    from tokkit.train.superbpe import default_transition

    rows = []
    for domain in _csv(args.domains):
        held = list(corpora.open_corpus(domain, split="heldout"))
        for vocab in [int(x) for x in _csv(args.sizes)]:
            opts = {"bpe": TrainOptions(algo="bpe", vocab_size=vocab),
                    "superbpe": TrainOptions(algo="superbpe", vocab_size=vocab)}
            reps: dict = {k: [] for k in opts}
            for _ in range(args.repeats):
                for k, o in opts.items():
                    reps[k].append(_timed_full(domain, o, sw.tmp / f"{k}-{vocab}"))
            real, tokens = {}, {}
            for k, o in opts.items():
                out = sw.tmp / f"real-{k}-{vocab}"
                c0, t0 = time.process_time(), time.perf_counter()
                res = train(o, [f"corpus:{domain}"], out, force=True)
                real[k] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                           "timings": res.manifest["timings"], "vocab": res.vocab.size}
                tokens[k] = sum(len(x) for x in tokkit.load(out).encode_batch(held))
                shutil.rmtree(out, ignore_errors=True)
            best = {k: {m: min(x[m] for x in v) for m in ("wall_s", "cpu_s")} for k, v in reps.items()}
            row = {"domain": domain, "vocab": vocab, "transition": default_transition(vocab),
                   "stage2": _stage2_name(opts["superbpe"].stage2_regex), "heldout_tokens": tokens,
                   "reduction": 1 - tokens["superbpe"] / tokens["bpe"], "best": best,
                   "ratio_wall": best["superbpe"]["wall_s"] / best["bpe"]["wall_s"],
                   "ratio_cpu": best["superbpe"]["cpu_s"] / best["bpe"]["cpu_s"], "repeats": reps, "real": real,
                   "real_ratio": real["superbpe"]["wall_s"] / real["bpe"]["wall_s"], "load": os.getloadavg()[0]}
            rows.append(row)
            (sw.cache / "confirm").mkdir(exist_ok=True)
            (sw.cache / "confirm" / f"{domain}-{vocab}.json").write_text(json.dumps(row, indent=1))
            print(f"{domain} {vocab}: {row['reduction']:.1%} fewer, {row['ratio_wall']:.2f}x wall, "
                  f"{row['ratio_cpu']:.2f}x CPU, real runs {row['real_ratio']:.2f}x", flush=True)
    print("\n| corpus | vocab | SuperBPE defaults | held-out tokens vs BPE | BPE: full time (wall / CPU) | "
          "SuperBPE | ratio (wall / CPU) | real runs: BPE | SuperBPE | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, s = r["best"]["bpe"], r["best"]["superbpe"]
        print(f"| {r['domain']} | {r['vocab'] // 1000}k | {r['stage2']}, t={r['transition']:,} | "
              f"{r['reduction']:.1%} fewer | {b['wall_s']:.2f} s / {b['cpu_s']:.2f} s | "
              f"{s['wall_s']:.2f} s / {s['cpu_s']:.2f} s | {r['ratio_wall']:.2f}x / {r['ratio_cpu']:.2f}x | "
              f"{r['real']['bpe']['wall_s']:.2f} s | {r['real']['superbpe']['wall_s']:.2f} s | "
              f"{r['real_ratio']:.2f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["run", "table", "confirm"])
    ap.add_argument("--cache", default=str(cache_dir() / "sweeps" / "trainer"))
    ap.add_argument("--domains", default=SWEEP_DOMAINS, help="corpora for SuperBPE (and confirm)")
    ap.add_argument("--domain-corpora", default=DOMAIN_CORPORA, help="corpora for the domain trainer")
    ap.add_argument("--sizes", default=SIZES)
    ap.add_argument("--fractions", default=FRACTIONS, help="SuperBPE transitions, fractions of the vocab size")
    ap.add_argument("--stage2", default=",".join(STAGE2), help="stage-2 regexes: " + ", ".join(STAGE2))
    ap.add_argument("--max-words", default="4")
    ap.add_argument("--variants", default=",".join(DOMAIN_VARIANTS), help="domain-trainer variants")
    ap.add_argument("--count-repeats", type=int, default=3)
    ap.add_argument("--bpe-repeats", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5, help="confirm: timing repeats per configuration")
    ap.add_argument("--time", choices=["cpu", "wall"], default="cpu",
                    help="table: time ratios from CPU time (robust on a shared machine) or wall-clock time")
    ap.add_argument("--decide-on", default="kernel-docs,cpython-stdlib",
                    help="table: corpora of the best-configuration summary (not go-src: no SuperBPE configuration "
                         "is within 3x there; not kjv: BPE runs out of pairs at 21K)")
    ap.add_argument("--repeat", type=int, default=0,
                    help="run: pass number (a later pass re-times every configuration; tables take the fastest)")
    args = ap.parse_args()
    sw = Sweep(Path(args.cache), args.count_repeats, args.bpe_repeats, args.repeat)
    try:
        {"run": cmd_run, "table": cmd_table, "confirm": cmd_confirm}[args.command](args, sw)
    finally:
        shutil.rmtree(sw.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
