"""Mid-token prompts: byte-level conditioning vs the naive tokenized prompt vs token healing.

Held-out text (this repository's own docs and Python source, written after SmolLM2 was
trained) is cut at random byte positions; each method continues the prompt greedily and we
compare its first bytes with the true continuation:
- naive: the prompt tokenized as is, then greedy tokens;
- token healing: the prompt's last token removed, the first new token constrained to start with
  the removed bytes (as llguidance / guidance do), then greedy tokens;
- byte-level: tokkit.bytes.ByteLM (canonical), greedy bytes; the prompt may end inside a token.

    .venv/bin/python eval/bytes_midtoken.py --prompts 30 --out ~/.cache/tokkit/eval/bytes/midtoken.json
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
K = 8  # bytes of continuation compared


def sources() -> dict[str, str]:
    prose = [ROOT / "docs" / n for n in ("architecture.md", "train.md", "formats.md", "corpora.md")]
    code = sorted((ROOT / "tokkit").rglob("*.py"))
    read = lambda ps: "\n".join(p.read_text(encoding="utf-8") for p in ps if p.exists())  # noqa: E731
    return {"prose": read(prose), "code": read(code)}


def cut_points(text: str, n: int, rng: random.Random, ctx: int) -> list[tuple[bytes, bytes]]:
    """(prompt, truth) pairs: a random cut (not inside a UTF-8 character, not at a line end),
    the prompt starting at a line start up to `ctx` bytes before it."""
    b = text.encode("utf-8")
    out = []
    while len(out) < n:
        p = rng.randrange(ctx, len(b) - K)
        if (b[p] & 0xC0) == 0x80 or b[p - 1:p] == b"\n" or b"\n" in b[p:p + 2]:
            continue
        start = b.rfind(b"\n", 0, p - ctx // 2) + 1 if b.rfind(b"\n", 0, p - ctx // 2) >= p - ctx else p - ctx
        prompt, truth = b[start:p], b[p:p + K]
        try:
            prompt.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(prompt.strip()) < 20:
            continue
        out.append((prompt, truth))
    return out


def greedy_tokens(model, tok, ids: list[int], prefix: int, steps: int, first_allowed=None) -> list[int]:
    import torch

    seq = [prefix] + ids
    out = []
    with torch.no_grad():
        for k in range(steps):
            logits = model(input_ids=torch.as_tensor([seq])).logits[0, -1, : tok.vocab.size]
            if k == 0 and first_allowed is not None:
                mask = torch.full_like(logits, -math.inf)
                mask[first_allowed] = 0
                logits = logits + mask
            t = int(torch.argmax(logits))
            out.append(t)
            seq.append(t)
    return out


def common_prefix(a: bytes, b: bytes) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=40, help="per domain (prose, code)")
    ap.add_argument("--ctx", type=int, default=100, help="prompt bytes before the cut (about)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)

    import torch

    from tokkit import assets
    from tokkit.bytes import ByteLM
    from tokkit.lm import load_model

    torch.set_num_threads(a.threads)
    model, tok = load_model(assets.smollm2_gguf())
    lm = ByteLM(model, tok, semantics="canonical")
    prefix = lm.prefix_token
    trie_tokens = tok.vocab.tokens
    rng = random.Random(a.seed)
    results = {}
    for domain, text in sources().items():
        rows = []
        for i, (prompt, truth) in enumerate(cut_points(text, a.prompts, rng, a.ctx)):
            ids = [int(x) for x in tok.encode(prompt.decode("utf-8"))]
            full = [int(x) for x in tok.encode((prompt + truth).decode("utf-8", "ignore"))]
            # is the cut inside a token of the text's own tokenization?
            ends = np.cumsum([len(trie_tokens[t]) for t in full])
            inside = len(prompt) not in set(ends.tolist())
            # naive
            t0 = time.perf_counter()
            naive = b"".join(trie_tokens[t] for t in greedy_tokens(model, tok, ids, prefix, 4))[:K]
            # token healing: back off one token, constrain the first new token to extend it
            removed = trie_tokens[ids[-1]]
            allowed = [j for j, t in enumerate(trie_tokens) if lm._allowed[j] and t.startswith(removed)]
            healed = b"".join(trie_tokens[t] for t in greedy_tokens(model, tok, ids[:-1], prefix, 4, allowed))
            healed = healed[len(removed):][:K]
            t_tok = time.perf_counter() - t0
            # byte level
            t0 = time.perf_counter()
            lm.reset()
            byte = lm.complete(prompt, max_bytes=K)
            t_byte = time.perf_counter() - t0
            rows.append({"prompt_tail": prompt[-30:].decode("utf-8", "replace"), "truth": truth.decode("utf-8", "replace"),
                         "inside_token": inside, "naive": naive.decode("utf-8", "replace"),
                         "healing": healed.decode("utf-8", "replace"), "byte": byte.decode("utf-8", "replace"),
                         "match": {"naive": common_prefix(naive, truth), "healing": common_prefix(healed, truth),
                                   "byte": common_prefix(byte, truth)},
                         "seconds_token": t_tok,
                         "seconds_byte": t_byte})
            m = rows[-1]["match"]
            print(f"{domain} {i}: inside={inside} naive={m['naive']} heal={m['healing']} byte={m['byte']} "
                  f"({t_byte:.1f}s)", file=sys.stderr, flush=True)
        results[domain] = rows

    def summary(rows):
        out = {"prompts": len(rows)}
        for meth in ("naive", "healing", "byte"):
            ms = np.array([r["match"][meth] for r in rows])
            out[meth] = {"next1": float(np.mean(ms >= 1)), "next4": float(np.mean(ms >= 4)),
                         "next8": float(np.mean(ms >= 8)), "mean_match_bytes": float(np.mean(ms))}
        return out

    table = {}
    for domain, rows in results.items():
        table[domain] = summary(rows)
        table[domain + "/inside_token"] = summary([r for r in rows if r["inside_token"]])
    table["all"] = summary([r for rows in results.values() for r in rows])
    for k, v in table.items():
        print(f"{k:20s} n={v['prompts']:3d} " + "  ".join(
            f"{m}: next1 {v[m]['next1']:.2f} next4 {v[m]['next4']:.2f} next8 {v[m]['next8']:.2f} "
            f"match {v[m]['mean_match_bytes']:.2f}" for m in ("naive", "healing", "byte")))
    if a.out:
        from tokkit.io import write_json_atomic

        write_json_atomic(a.out, {"summary": table, "rows": results, "k": K, "args": vars(a) | {"out": str(a.out)}})


if __name__ == "__main__":
    main()
