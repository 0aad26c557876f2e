"""Vocabulary audits that need no corpus, digit policy, and overlap between vocabularies.

- script of each token (Unicode Script property of its letters; ``Zyyy`` = only digits,
  punctuation, spaces; ``Mixed``; ``partial`` = not valid UTF-8 on its own);
- partial-UTF-8 tokens (bytes that are not valid UTF-8 by themselves, byte-fallback pieces
  counted separately);
- unreachable tokens: a token whose own text encodes to something else (magikarp's check);
- undecodable tokens: the tokenizer's decoder fails on the id, or gives other text than the
  token's bytes (a leading space dropped by a SentencePiece decoder is not a difference);
- digit policy measured on numbers in context: single digits, groups of 3 from the left
  (L2R-3), from the right (R2L-3), or irregular (BPE pieces);
- overlap: Jaccard similarity of the sets of normal tokens' bytes, so ``Ġthe``, ``▁the`` and
  `` the`` are the same token.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ...vocab import TokenType


def _token_text(b: bytes) -> str | None:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def adds_dummy_prefix(tok) -> bool:
    return tok.decode_bytes(tok.encode("a")).startswith(b" ")


def audit_vocabulary(tok, max_examples: int = 12) -> dict:
    from ..scripts import token_scripts

    v = tok.vocab
    types = v.types
    special = {t.id for t in v.added}
    normal = [i for i, t in enumerate(types) if t == TokenType.NORMAL and i not in special]
    texts = [_token_text(v.tokens[i]) for i in normal]
    scripts = token_scripts(texts)
    script_counts = Counter(scripts)
    partial = [i for i, t in zip(normal, texts) if t is None]
    n_byte = sum(1 for t in types if t == TokenType.BYTE)
    categories = Counter(t.name.lower() for t in types)

    # unreachable: encode each token's own text, in one parallel batch
    prefix = adds_dummy_prefix(tok)
    cand, cand_text, skipped = [], [], 0
    for i, t in zip(normal, texts):
        if not t:
            continue
        if prefix:
            if not t.startswith(" "):
                skipped += 1  # a continuation piece: a dummy-prefix tokenizer never starts a text with it
                continue
            t = t[1:]
            if not t:
                skipped += 1
                continue
        cand.append(i)
        cand_text.append(t)
    unreachable = []
    if cand:
        ids, lengths = tok.encode_batch_flat(cand_text)
        lengths = lengths.astype(np.int64)
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        single = lengths == 1
        first = ids[np.minimum(bounds[:-1], max(len(ids) - 1, 0))] if len(ids) else np.zeros(len(cand), np.uint32)
        ok = single & (first == np.asarray(cand, dtype=np.uint32))
        for j in np.flatnonzero(~ok):
            got = ids[bounds[j]:bounds[j + 1]]
            unreachable.append((cand[j], got))

    # undecodable: the tokenizer's own decoder on each id alone
    undecodable = []
    dec_ids = [i for i, t in zip(normal, texts) if t is not None]
    decoded: list[str | None] = []
    errors: list[str] = []
    try:
        decoded = list(tok.decode_batch([[i] for i in dec_ids]))
    except Exception:  # noqa: BLE001 - a decoder that fails on the batch: one id at a time
        for i in dec_ids:
            try:
                decoded.append(tok.decode([i]))
            except Exception as e:  # noqa: BLE001 - any failure of a decoder (a third-party one too) is a finding
                decoded.append(None)
                errors.append(f"{type(e).__name__}: {e}")
    # no decoder at all (every id fails): why
    decoder_error = errors[0] if dec_ids and len(errors) == len(dec_ids) else None
    for i, d in zip(dec_ids, decoded):
        want = v.tokens[i].decode("utf-8")
        if d is None or (d != want and d != want.lstrip(" ") and d.strip() != want.strip()):
            undecodable.append((i, d))

    def show(b: bytes) -> str:
        return b.decode("utf-8", "backslashreplace")

    lens = tok.token_lengths()[normal] if normal else np.zeros(0)
    return {
        "vocab_size": v.size,
        "token_types": dict(sorted(categories.items())),
        "special_tokens": len(special),
        "byte_fallback_tokens": n_byte,
        "normal_tokens": len(normal),
        "mean_token_bytes": float(lens.mean()) if len(lens) else 0.0,
        "max_token_bytes": int(lens.max()) if len(lens) else 0,
        "scripts": dict(script_counts.most_common()),
        "partial_utf8": len(partial),
        "partial_utf8_examples": [show(v.tokens[i]) for i in partial[:max_examples]],
        "unreachable": len(unreachable),
        "unreachable_tested": len(cand),
        "unreachable_not_tested": skipped,
        "unreachable_examples": [
            {"id": int(i), "token": show(v.tokens[i]), "encodes_to": [show(v.tokens[int(g)]) for g in got[:8]]}
            for i, got in unreachable[:max_examples]
        ],
        "undecodable": len(undecodable),
        "undecodable_examples": [
            {"id": int(i), "token": show(v.tokens[i]), "decoded": d} for i, d in undecodable[:max_examples]
        ],
        "dummy_prefix": prefix,
        "decoder_error": decoder_error,
    }


# -- digits -----------------------------------------------------------------------------------------
POLICIES = ("single", "L2R-3", "R2L-3", "irregular")


def _classify(chunks: list[int]) -> set[str]:
    n = sum(chunks)
    out = set()
    if all(c == 1 for c in chunks):
        out.add("single")
    l2r = [3] * (n // 3) + ([n % 3] if n % 3 else [])
    r2l = ([n % 3] if n % 3 else []) + [3] * (n // 3)
    if chunks == l2r:
        out.add("L2R-3")
    if chunks == r2l:
        out.add("R2L-3")
    return out


def digit_policy(tok, max_digits: int = 12, per_length: int = 4, seed: int = 0) -> dict:
    """Chunk numbers of 1..max_digits digits in context (``"Total: N items."``) and classify."""
    from ..encode import encode_texts

    rng = np.random.default_rng(seed)
    numbers = []
    for n in range(1, max_digits + 1):
        for _ in range(per_length):
            digits = [int(rng.integers(1, 10))] + [int(d) for d in rng.integers(0, 10, n - 1)]
            numbers.append("".join(map(str, digits)))
    texts = [f"Total: {x} items." for x in numbers]
    enc = encode_texts(tok, texts)
    bounds = np.concatenate([[0], np.cumsum(enc.lengths)])
    votes = Counter()
    lengths_seen = Counter()
    consistent = set(POLICIES[:3])
    respects = {"L2R-3", "R2L-3"}
    examples = {}
    for k, x in enumerate(numbers):
        s0, e0 = 7, 7 + len(x)  # the number's byte span ("Total: " is 7 bytes)
        ends = enc.ends[bounds[k]:bounds[k + 1]]
        starts = np.concatenate([[0], ends[:-1]])
        chunks = []
        for s, e in zip(starts, ends):
            c = min(e, e0) - max(s, s0)
            if c > 0:
                chunks.append(int(c))
        kinds = _classify(chunks)
        consistent &= kinds
        cuts = set(np.cumsum(chunks)[:-1].tolist())
        n = len(x)
        if not set(range(3, n, 3)) <= cuts:
            respects.discard("L2R-3")
        if not set(range(n % 3 or 3, n, 3)) <= cuts:
            respects.discard("R2L-3")
        for c in chunks:
            lengths_seen[c] += 1
        if not kinds:
            votes["irregular"] += 1
        for kd in kinds:
            votes[kd] += 1
        if len(x) in (4, 7, 10) and len(x) not in examples:
            examples[len(x)] = [x[sum(chunks[:j]):sum(chunks[:j + 1])] for j in range(len(chunks))]
    policy = next((p for p in POLICIES[:3] if p in consistent), "irregular")
    return {
        "policy": policy,
        # irregular pieces that never cross a group boundary: the pretokenizer groups digits by 3
        # but the vocabulary lacks some 2-3 digit tokens (typical of a small trained vocabulary)
        "within_groups": sorted(respects) if policy == "irregular" else [],
        "numbers": len(numbers),
        "share": {p: votes[p] / len(numbers) for p in POLICIES},
        "max_digits_per_token": max(lengths_seen) if lengths_seen else 0,
        "examples": {str(k): v for k, v in sorted(examples.items())},
    }


def overlap(vocabs: dict[str, object]) -> dict:
    """Pairwise Jaccard similarity and shared-token counts of normal tokens' bytes.

    Each vocabulary becomes a sorted array of 64-bit hashes of its tokens' bytes (Python's
    ``hash``, consistent within the process) and pairs intersect with numpy: 10 vocabularies of
    ~100k tokens in well under a second, where Python set operations take seconds."""
    arrays = {}
    for name, v in vocabs.items():
        special = {t.id for t in v.added}
        arrays[name] = np.unique(np.fromiter(
            (hash(b) for i, (b, t) in enumerate(zip(v.tokens, v.types)) if t == TokenType.NORMAL and i not in special),
            dtype=np.int64))
    names = list(arrays)
    jac = [[0.0] * len(names) for _ in names]
    shared = [[0] * len(names) for _ in names]
    for a, na in enumerate(names):
        for b in range(a, len(names)):
            nb = names[b]
            inter = len(np.intersect1d(arrays[na], arrays[nb], assume_unique=True))
            union = len(arrays[na]) + len(arrays[nb]) - inter
            jac[a][b] = jac[b][a] = inter / union if union else 0.0
            shared[a][b] = shared[b][a] = inter
    return {"tokenizers": names, "jaccard": jac, "shared": shared}
