"""Training a ZeTT hypernetwork for one base model, and applying it to a new tokenizer.

The base model stays frozen. Each step (after an identity warm-up that regresses single old
tokens onto their own rows) samples a fresh Unigram tokenizer from a buffer of corpus text
(random vocabulary size, Gumbel-noised scores: :mod:`.sampler`), tokenizes a batch with it,
predicts the rows of its whole vocabulary, and minimises the base model's causal-LM loss with
those rows (input embeddings and, tied or not, the LM head) plus ``aux_weight`` x the squared
error to the original rows for tokens that are single old tokens.

Reproducible: step k draws everything from ``numpy.random.default_rng([seed, k])`` and the
network has no dropout, so a run resumed from a checkpoint gives the same weights as an
uninterrupted one: bit for bit with ``threads=1`` (tested), to float rounding (3e-7 after 4 steps)
with several threads, whose reductions do not always add in the same order. Checkpoints (weights, optimizer, step, log) are written every
``checkpoint_every`` steps; torch's own optimizer and serialization are used, and training on
several GPUs would wrap the hypernetwork in torch's DistributedDataParallel (not done here).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import TokkitError
from ..lm import bits_per_byte
from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from ..transplant.align import base_rows, decompose, special_rows
from .core import lm_loss, predict
from .model import HyperNetConfig, build, fingerprint, load_hypernet, save_hypernet
from .sampler import sample_tokenizer

CHECKPOINT = "checkpoint.pt"
LOG = "train_log.jsonl"


@dataclass
class HyperTrainOptions:
    steps: int = 200
    batch: int = 16
    seq_len: int = 128
    vocab_sizes: list[int] = field(default_factory=lambda: [4096, 8192, 16384])
    noise: float = 1.0
    buffer_texts: int = 64  # texts the tokenizer of a step is sampled from
    lr: float = 1e-4
    warmup_steps: int = 20
    aux_weight: float = 0.5
    grad_clip: float = 1.0
    hidden: int = 256
    layers: int = 2
    heads: int = 4
    max_pieces: int = 8
    residual: str = "mean"
    #: tokens that are one old token keep its row during training, as they do when applied
    copy_shared: bool = True
    seed: int = 0
    checkpoint_every: int = 25
    eval_every: int = 50
    chunk_chars: int = 2000
    threads: int | None = None
    device: str | None = None  # None: "cuda" when torch sees a GPU, else "cpu"


def load_base(path: str | os.PathLike):
    """(model, tokenizer): :func:`tokkit.lm.load_model`."""
    from ..lm import load_model

    return load_model(path)


def text_chunks(texts: Sequence[str], chunk_chars: int) -> list[str]:
    out = []
    for t in texts:
        for a in range(0, len(t), chunk_chars):
            piece = t[a:a + chunk_chars]
            if len(piece) >= chunk_chars // 4:
                out.append(piece)
    return out


def zett_rows(net, model, old: Tokenizer, new: Vocabulary, copy_shared: bool = True):
    """Rows [V_new, width] for ``new``'s vocabulary: special tokens from the old ones (same text or
    role), tokens with the same bytes as an old token copied (``copy_shared``), the rest predicted.
    Returns (rows, record) where record[i] is "special", "copied" or "predicted"."""
    import torch

    rows, _ = base_rows(model)
    specials = special_rows(new, old.vocab)
    old_index = old.vocab.index()
    with torch.no_grad():
        pieces, lengths = decompose(new.tokens, old, net.cfg.max_pieces)
        table = predict(net, rows, pieces, lengths).clone()
    record = ["predicted"] * new.size
    added = {t.id for t in new.added}
    for i, b in enumerate(new.tokens):
        if i in specials:
            table[i] = rows[specials[i]]
            record[i] = "special"
        elif copy_shared and b in old_index and i not in added:
            table[i] = rows[old_index[b]]
            record[i] = "copied"
    return table, record


def _eval(model, net, old: Tokenizer, evals: dict[str, Tokenizer], texts) -> dict:
    """Bits per byte with each tokenizer's hypernetwork rows (tied head); ``texts`` is a list, or a
    dict name -> list, which gives one value per tokenizer and name ("tokenizer/name")."""
    import torch

    groups = texts if isinstance(texts, dict) else {"": texts}
    out = {}
    with torch.no_grad():
        for name, tok in evals.items():
            table, _ = zett_rows(net, model, old, tok.vocab)
            for g, ts in groups.items():
                out[f"{name}/{g}" if g else name] = bits_per_byte(model, tok, ts, rows=table)["bits_per_byte"]
    return out


def train_hypernet(base: str | os.PathLike, texts: Sequence[str], out: str | os.PathLike,
                   opts: HyperTrainOptions | None = None, eval_tokenizers: dict[str, str] | None = None,
                   eval_texts: Sequence[str] = (), resume: bool = True,
                   progress: Callable[[int, int, dict], None] | None = None) -> dict:
    """Train (or resume) a hypernetwork for the model at ``base`` on ``texts``; write ``out``.

    ``eval_tokenizers`` (name -> path): every ``eval_every`` steps, bits per byte of the base
    model with that tokenizer and hypernetwork rows on ``eval_texts`` (a list of texts, or a dict
    name -> texts for one value each): the training curve.
    Returns the final log record.
    """
    import torch

    opts = opts or HyperTrainOptions()
    threads = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        return _train(base, texts, out, opts, eval_tokenizers, eval_texts, resume, progress)
    finally:
        torch.set_num_threads(threads)


def _train(base, texts, out, opts, eval_tokenizers, eval_texts, resume, progress) -> dict:
    import torch

    out = Path(out)
    model, old = load_base(base)
    dev = torch.device(opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(dev)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    rows, tied = base_rows(model)
    d = model.get_input_embeddings().weight.shape[1]
    fp = fingerprint([rows])
    chunks = text_chunks(texts, opts.chunk_chars)
    if len(chunks) < opts.buffer_texts:
        raise TokkitError(f"the corpus gives {len(chunks)} text chunks of ~{opts.chunk_chars} characters; "
                          f"at least {opts.buffer_texts} are needed")
    cfg = HyperNetConfig(d_model=d, tied=tied, base_fingerprint=fp, base_name=str(base), hidden=opts.hidden,
                         layers=opts.layers, heads=opts.heads, max_pieces=opts.max_pieces, residual=opts.residual)
    torch.manual_seed(opts.seed)
    net = build(cfg).to(dev)
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=0.0)
    start, log = 0, []
    ck = out / CHECKPOINT
    if resume and ck.exists():
        state = torch.load(ck, weights_only=False, map_location=dev)
        volatile = {"steps", "eval_every", "checkpoint_every", "threads", "device"}  # may change on resume
        same = {k: v for k, v in asdict(opts).items() if k not in volatile}
        if state["config"] != asdict(cfg) or {k: v for k, v in state["options"].items() if k not in volatile} != same:
            raise TokkitError(f"{ck}: a checkpoint of another run (other base model or options); "
                              "use another --out or remove it")
        net.load_state_dict(state["net"])
        optim.load_state_dict(state["optim"])
        start, log = state["step"], state["log"]
    evals = {k: Tokenizer.from_file(v) for k, v in (eval_tokenizers or {}).items()}
    special_ids = {t.id for t in old.vocab.added}
    normal_old = np.array([i for i in range(rows.shape[0]) if i not in special_ids])
    old_index = old.vocab.index()
    if start == 0 and evals and eval_texts:
        rec = {"step": 0, "seconds": 0.0, "eval_bpb": _eval(model, net, old, evals, eval_texts)}
        log.append(rec)
    t_start = time.perf_counter() - (log[-1]["seconds"] if log else 0.0)
    for step in range(start, opts.steps):
        rng = np.random.default_rng([opts.seed, step])
        net.train()
        if step < opts.warmup_steps:
            ids = torch.as_tensor(rng.choice(normal_old, size=2048, replace=False), device=dev)
            pred = net(rows[ids][:, None, :], torch.ones(len(ids), 1, dtype=torch.bool, device=dev))
            loss = torch.nn.functional.mse_loss(pred, rows[ids])
            rec = {"step": step + 1, "phase": "warmup", "loss": float(loss.detach())}
        else:
            pick = rng.choice(len(chunks), size=opts.buffer_texts, replace=False)
            buf = [chunks[i] for i in pick]
            tok = sample_tokenizer(buf, int(rng.choice(opts.vocab_sizes)), rng, noise=opts.noise)
            enc = [e for e in tok.encode_batch(buf[: opts.batch * 2]) if len(e) >= opts.seq_len][: opts.batch]
            if not enc:
                continue
            ids = torch.as_tensor(np.array([e[: opts.seq_len] for e in enc], dtype=np.int64), device=dev)
            pieces, lengths = decompose(tok.tokens, old, opts.max_pieces)
            single = np.array([old_index.get(b, -1) for b in tok.tokens])
            is_single = single >= 0
            if opts.copy_shared:
                # as when the hypernetwork is applied (zett_rows): a token that is one old token
                # keeps its old row; only the others are predicted (and trained through the LM loss)
                multi = np.flatnonzero(~is_single)
                table = rows[torch.as_tensor(np.where(is_single, single, 0), device=dev)].clone()
                table[torch.as_tensor(multi, device=dev)] = predict(net, rows, pieces[multi], lengths[multi])
                # the auxiliary loss keeps the correction of one-piece inputs near zero
                sample = rng.choice(np.flatnonzero(is_single), size=min(1024, int(is_single.sum())), replace=False)
                aux = (torch.nn.functional.mse_loss(predict(net, rows, pieces[sample], lengths[sample]),
                                                    rows[torch.as_tensor(single[sample], device=dev)])
                       if len(sample) else table.sum() * 0)
            else:
                table = predict(net, rows, pieces, lengths)
                si = torch.as_tensor(np.flatnonzero(is_single), device=dev)
                so = torch.as_tensor(single[is_single], device=dev)
                aux = torch.nn.functional.mse_loss(table[si], rows[so]) if len(si) else table.sum() * 0
            lm = lm_loss(model, table, ids, tied, d)
            loss = lm + opts.aux_weight * aux
            rec = {"step": step + 1, "phase": "zett", "loss": float(loss.detach()), "lm_loss": float(lm.detach()),
                   "aux": float(aux.detach()),
                   "vocab": len(tok.tokens)}
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), opts.grad_clip)
        optim.step()
        rec["seconds"] = round(time.perf_counter() - t_start, 2)
        last = step + 1 == opts.steps
        if evals and eval_texts and ((step + 1) % opts.eval_every == 0 or last):
            net.eval()
            t_eval = time.perf_counter()
            rec["eval_bpb"] = _eval(model, net, old, evals, eval_texts)
            t_start += time.perf_counter() - t_eval  # "seconds" counts training time, not evaluations
        log.append(rec)
        if progress:
            progress(step + 1, opts.steps, rec)
        if (step + 1) % opts.checkpoint_every == 0 or last:
            _checkpoint(ck, net, optim, step + 1, log, cfg, opts)
    net.eval()
    save_hypernet(net, out, extra={"options": asdict(opts), "steps": opts.steps})
    from ..io import write_text_atomic

    write_text_atomic(out / LOG, "".join(json.dumps(r) + "\n" for r in log))
    return log[-1] if log else {}


def _checkpoint(path: Path, net, optim, step: int, log: list, cfg: HyperNetConfig, opts: HyperTrainOptions) -> None:
    import torch

    from ..io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save({"net": net.state_dict(), "optim": optim.state_dict(), "step": step, "log": log,
                    "config": asdict(cfg), "options": asdict(opts)}, tmp)


def apply_hypernet(hypernet_dir: str | os.PathLike, model, old: Tokenizer, new: Vocabulary, copy_shared: bool = True):
    """Rows for ``new`` from a saved hypernetwork; refuses one trained for another base model."""
    rows, _ = base_rows(model)
    net = load_hypernet(hypernet_dir, base_fingerprint=fingerprint([rows])).to(rows.device)
    net.eval()
    return zett_rows(net, model, old, new, copy_shared=copy_shared)


__all__ = ["HyperTrainOptions", "apply_hypernet", "load_base", "train_hypernet", "zett_rows"]
