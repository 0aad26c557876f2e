"""Exactness and speed of tokkit.bytes.

1. Oracle: a toy byte-level BPE (GPT-2 pretokenizer, 12 merges) and a tiny random Llama
   (float64); every prefix of random strings over "abc " scored by ByteLM and by brute-force
   enumeration of token sequences (tokkit.bytes.oracle), both semantics.
2. SmolLM2-135M: canonical byte-level log-probabilities of token-aligned texts (whole lines from
   this repository's docs and code, tab-indented Go from the cached go-src corpus, and a TSV
   file: `corpora/build_cached.py go-src --install` first) vs the token-level figure (the text's own tokens, same
   conditioning token, the same renormalisation over text tokens + end of text): with the end
   of text the two are the same quantity; without it the byte level also counts the texts that
   continue the last word.
3. Speed: model calls (batched forwards) per byte and bytes per second, scoring (lazy) and
   sampling, on the CPU this runs on.

    .venv/bin/python eval/bytes_exactness.py --texts 2 --size 500 --out ~/.cache/tokkit/eval/bytes/exactness.json
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def oracle_part(n_strings: int, seed: int) -> dict:
    from test_bytes import _toy  # the same toy as the tests

    from tokkit.bytes import ByteLM
    from tokkit.bytes.oracle import Oracle
    from test_bytes import MERGES

    model, tok = _toy(MERGES, 0)
    rng = random.Random(seed)
    strings = ["".join(rng.choice("abc ") for _ in range(rng.randint(3, 5))) for _ in range(n_strings)]
    out = {}
    for sem in ("all", "canonical"):
        lm, orc = ByteLM(model, tok, semantics=sem, beam=None), Oracle(model, tok, semantics=sem)
        err = sum_err = mass_err = chain_err = 0.0
        n = 0
        for s in strings:
            x = s.encode()
            for k in range(len(x) + 1):
                got, want = np.exp(lm.next_byte_logprobs(x[:k])), np.exp(orc.next_byte_logprobs(x[:k]))
                err = max(err, float(np.max(np.abs(got - want))))
                sum_err = max(sum_err, abs(float(got.sum()) - 1))
                n += 1
            mass_err = max(mass_err, abs(lm.logprob(x) - orc.prefix_logmass(x)))
            if sem == "all":
                chain_err = max(chain_err, abs(lm.chain_logprob(x) - orc.prefix_logmass(x)))
        out[sem] = {"distributions": n, "max_abs_prob_error": err, "max_sum_error": sum_err,
                    "max_prefix_logmass_error": mass_err}
        if sem == "all":
            out[sem]["max_chain_rule_error"] = chain_err
        print(f"oracle {sem}: {out[sem]}", file=sys.stderr)
    return out


def _cut(t: str, size: int) -> str:
    """About ``size`` bytes of whole lines from the middle third of ``t``."""
    a = t.find("\n", len(t) // 3) + 1
    b = t.rfind("\n", a, a + size) + 1
    return t[a:b]


def tab_texts(size: int) -> dict[str, str]:
    """Tab-indented Go (the held-out split of the cached go-src corpus: the first document with
    tab-indented lines) and a TSV file shipped with the Go sources (Debian golang-1.19-src)."""
    import gzip
    import json

    from tokkit.io import cache_dir

    out = {}
    go = cache_dir() / "corpora" / "go-src" / "heldout.jsonl.gz"
    if go.exists():
        with gzip.open(go, "rt", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                t = _cut(d["text"], size)
                if t.count("\n\t") >= 5:
                    out[f"go:{d['id']}"] = t
                    break
    tsv = Path("/usr/share/go-1.19/src/cmd/go/internal/modconv/testdata/juju.tsv")
    if tsv.exists():
        t = tsv.read_text(encoding="utf-8")
        out[f"tsv:{tsv.name}"] = t[: t.rfind("\n", 0, size) + 1]
    return out


def texts(n_each: int, size: int) -> dict[str, str]:
    out = {}
    for name, paths in {"prose": ["docs/architecture.md", "docs/train.md", "docs/formats.md"],
                        "code": ["tokkit/tokenizer.py", "tokkit/counts.py", "tokkit/corpora.py"]}.items():
        for k, p in enumerate(paths[:n_each]):
            out[f"{name}{k}:{p}"] = _cut((ROOT / p).read_text(encoding="utf-8"), size)
    return out


def smollm2_part(n_each: int, size: int) -> dict:
    import torch

    from tokkit import assets
    from tokkit.bytes import ByteLM
    from tokkit.lm import bits_per_byte, load_model

    model, tok = load_model(assets.smollm2_gguf())
    lm = ByteLM(model, tok, semantics="canonical")
    allowed = torch.as_tensor(lm._allowed)
    rows = {}
    for name, t in {**texts(n_each, size), **tab_texts(size)}.items():
        x = t.encode()
        ids = [int(i) for i in tok.encode(t)]
        with torch.no_grad():
            logits = model(input_ids=torch.as_tensor([[lm.prefix_token] + ids])).logits[0].double()
        lq = torch.log_softmax(logits.masked_fill(~allowed, -math.inf), -1)
        tok_lp = float(sum(lq[i, v] for i, v in enumerate(ids)))
        tok_end = tok_lp + float(lq[len(ids), lm.end_token])
        raw_bpb = bits_per_byte(model, tok, [t])["bits_per_byte"]
        f0, t0 = lm.stats()["forwards"], time.perf_counter()
        byte_lp = lm.logprob(x)
        secs = time.perf_counter() - t0
        calls = lm.stats()["forwards"] - f0
        byte_end = lm.logprob(x, end=True)
        bpb = lambda lp: -lp / math.log(2) / len(x)  # noqa: E731
        rows[name] = {"bytes": len(x), "tokens": len(ids), "token_bpb": bpb(tok_lp), "token_bpb_raw_softmax": raw_bpb,
                      "byte_bpb": bpb(byte_lp), "bpb_difference": bpb(byte_lp) - bpb(tok_lp),
                      "with_end_logprob_difference_nats": byte_end - tok_end,
                      "score_forwards_per_byte": calls / len(x), "score_bytes_per_second": len(x) / secs}
        print(f"{name}: {rows[name]}", file=sys.stderr)
    # sampling speed and the chain-rule figure on one short text
    f0, t0 = lm.stats()["forwards"], time.perf_counter()
    n = 0
    for seed in range(2):
        lm.reset()
        n += len(lm.sample(b"def ", max_bytes=64, seed=seed, temperature=1.0))
    secs = time.perf_counter() - t0
    sampling = {"bytes": n, "forwards_per_byte": (lm.stats()["forwards"] - f0) / max(n, 1), "bytes_per_second": n / secs}
    print(f"sampling: {sampling}", file=sys.stderr)
    short = next(iter(texts(1, 200).values())).encode()
    f0, t0 = lm.stats()["forwards"], time.perf_counter()
    chain = lm.chain_logprob(short)
    secs = time.perf_counter() - t0
    chain_row = {"bytes": len(short), "chain_bpb": -chain / math.log(2) / len(short),
                 "cover_bpb": -lm.logprob(short) / math.log(2) / len(short),
                 "forwards_per_byte": (lm.stats()["forwards"] - f0) / len(short), "bytes_per_second": len(short) / secs}
    print(f"chain: {chain_row}", file=sys.stderr)
    # all semantics (beam 32) on the same short text
    lm_all = ByteLM(model, tok, semantics="all")
    f0, t0 = lm_all.stats()["forwards"], time.perf_counter()
    all_lp = lm_all.logprob(short)
    secs = time.perf_counter() - t0
    all_row = {"bytes": len(short), "bpb": -all_lp / math.log(2) / len(short), "beam": lm_all.beam,
               "pruned": lm_all.pruned, "forwards_per_byte": (lm_all.stats()["forwards"] - f0) / len(short),
               "tokens_evaluated_per_byte": (lm_all.stats()["tokens_evaluated"]) / len(short),
               "bytes_per_second": len(short) / secs}
    print(f"all: {all_row}", file=sys.stderr)
    return {"texts": rows, "sampling": sampling, "chain_rule_canonical": chain_row, "all_semantics": all_row}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strings", type=int, default=8)
    ap.add_argument("--texts", type=int, default=3, help="per domain")
    ap.add_argument("--size", type=int, default=600, help="bytes per text (about)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    res = {"oracle": oracle_part(a.strings, a.seed), "smollm2": smollm2_part(a.texts, a.size),
           "args": {k: str(v) for k, v in vars(a).items()}}
    if a.out:
        from tokkit.io import write_json_atomic

        write_json_atomic(a.out, res)


if __name__ == "__main__":
    main()
