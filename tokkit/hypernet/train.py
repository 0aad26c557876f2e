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
with several threads, whose reductions do not always add in the same order. Checkpoints are
written every ``checkpoint_every`` steps as one safetensors file, ``checkpoint.safetensors``
(:mod:`tokkit.checkpoint`): the tensors (the network's weights, the optimizer's state, torch's
RNG state as uint8) and, in its JSON metadata, the step, log, configuration, options and the
optimizer's parameter groups.
Nothing is ever unpickled: a ``checkpoint.pt`` (a pickle, as tokkit once wrote) is refused, not
loaded.

Data-parallel (:mod:`.distributed`): under a launcher (``torchrun``, ``--nproc``) every rank draws
the same step, trains on its slice of the global batch through DistributedDataParallel, and rank
0 alone writes; the weights are those of one process to float rounding.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..align import base_rows, decompose, special_rows
from ..errors import FormatError, TokkitError
from ..lm import bits_per_byte, one_line
from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from .core import lm_loss, predict
from .distributed import Ranks, all_sum
from .model import CONFIG, WEIGHTS, HyperNetConfig, build, fingerprint, load_hypernet, save_hypernet
from .sampler import sample_tokenizer

CHECKPOINT = "checkpoint.safetensors"
PICKLE_CHECKPOINT = "checkpoint.pt"  # what tokkit once wrote: a pickle, never loaded
LOG = "train_log.jsonl"
SAMPLERS = ("unigram", "dynamic", "mixed")


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
    #: how each step's tokens are made: "unigram" (ZeTT: a sampled Unigram tokenizer), "dynamic"
    #: (dynamic tokenization's batch-level merges, tokkit.dynamic), "mixed" (alternating)
    sampler: str = "unigram"
    #: tokens that are one old token keep its row during training, as they do when applied
    copy_shared: bool = True
    seed: int = 0
    checkpoint_every: int = 25
    eval_every: int = 50
    chunk_chars: int = 2000
    threads: int | None = None
    device: str | None = None  # None: "cuda" when torch sees a GPU, else "cpu"

    def __post_init__(self) -> None:
        """Refuse values that cannot train (a TokkitError naming the option)."""
        for name, least in (("steps", 1), ("batch", 1), ("seq_len", 2), ("buffer_texts", 1), ("warmup_steps", 0),
                            ("hidden", 1), ("layers", 1), ("heads", 1), ("max_pieces", 1), ("seed", 0),
                            ("checkpoint_every", 1), ("eval_every", 1), ("chunk_chars", 4)):
            _check_int(name, getattr(self, name), least)
        if self.threads is not None:
            _check_int("threads", self.threads, 1)
        if not self.vocab_sizes or any(isinstance(v, bool) or not isinstance(v, int) or v <= 256
                                       for v in self.vocab_sizes):
            raise TokkitError(f"vocab_sizes must be integers > 256 (the bytes come first), got {self.vocab_sizes!r}")
        for name, positive in (("lr", True), ("grad_clip", True), ("noise", False), ("aux_weight", False)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 if positive else v >= 0)):
                raise TokkitError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}")
        if self.hidden % self.heads:
            raise TokkitError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if self.sampler not in SAMPLERS:
            raise TokkitError(f"sampler must be one of {', '.join(SAMPLERS)}, not {self.sampler!r}")
        if self.residual not in ("mean", "first"):
            raise TokkitError(f"residual must be 'mean' or 'first', not {self.residual!r}")


def _check_int(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise TokkitError(f"{name} must be an integer >= {least}, got {value!r}")


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
                   progress: Callable[[int, int, dict], None] | None = None,
                   inputs: Sequence[str | os.PathLike] = ()) -> dict:
    """Train (or resume) a hypernetwork for the model at ``base`` on ``texts``; write ``out``.

    ``eval_tokenizers`` (name -> path): every ``eval_every`` steps, bits per byte of the base
    model with that tokenizer and hypernetwork rows on ``eval_texts`` (a list of texts, or a dict
    name -> texts for one value each): the training curve. ``inputs``: more paths the run reads
    (corpus files), which ``out`` must not overlap.

    Data-parallel when a launcher (``torchrun``, ``tokkit hypernet train --nproc``) started this
    process as one of several ranks (:mod:`.distributed`): ``opts.batch`` is the global batch and
    each rank trains on its slice of it; rank 0 alone evaluates, calls ``progress`` and writes
    ``out``. The process group is left (destroyed) at the end, also after an error.
    Returns the final log record.
    """
    opts = opts or HyperTrainOptions()
    _check_out(Path(out), [base, *(eval_tokenizers or {}).values(), *inputs], resume)
    import torch

    from .distributed import join, leave

    threads = torch.get_num_threads()
    if opts.threads:
        torch.set_num_threads(opts.threads)
    try:
        ranks, dev = join(opts.device)
        try:
            return _train(base, texts, Path(out), opts, eval_tokenizers, eval_texts, resume, progress, ranks, dev)
        finally:
            leave(ranks)
    finally:
        torch.set_num_threads(threads)


def _check_out(out: Path, inputs: Sequence, resume: bool) -> None:
    """Refuse an output that overlaps an input, a pickle checkpoint to resume from, and a directory
    whose config.json or model.safetensors is not a hypernetwork's (they would be overwritten)."""
    from ..io import refuse_overwrite_inputs

    refuse_overwrite_inputs([out], [p for p in inputs if p])
    if out.exists() and not out.is_dir():
        raise TokkitError(f"{out}: exists and is not a directory")
    if resume and (out / PICKLE_CHECKPOINT).exists() and not (out / CHECKPOINT).exists():
        raise FormatError(out / PICKLE_CHECKPOINT, "a pickle checkpoint is never loaded (unpickling can run code); "
                                                   "remove it to start over")
    if (out / CONFIG).exists() or (out / WEIGHTS).exists():
        try:
            raw = json.loads((out / CONFIG).read_bytes())
            ours = isinstance(raw, dict) and "base_fingerprint" in raw
        except (OSError, ValueError, TypeError):
            ours = False
        if not ours:
            raise TokkitError(f"{out}: holds a model that is not a tokkit hypernetwork ({CONFIG}, {WEIGHTS} would "
                              "be overwritten); choose another --out")


@dataclass
class _Run:
    """What every step reads: the frozen base model, the text chunks, the options, this rank."""

    model: Any
    old: Tokenizer
    rows: Any  # the base model's rows [V, width]: input, then output rows when untied
    tied: bool
    d: int  # the model's embedding width
    old_index: dict  # bytes -> old id (the model's own tokens)
    normal_old: np.ndarray  # old ids that are not special tokens
    chunks: list[str]
    opts: HyperTrainOptions
    ranks: Ranks


def _prepare(base, texts, opts: HyperTrainOptions, ranks: Ranks, dev) -> _Run:
    """The frozen base model on ``dev`` (read first: a model that cannot be read is the first
    thing to hear about) and the corpus in chunks."""
    from .distributed import local_first

    if ranks.world > 1:  # transformers' imports (seconds) on every rank at once, before they take turns
        import transformers

        transformers.AutoModelForCausalLM
    with local_first(ranks, dev):
        model, old = load_base(base)
    model.to(dev)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    rows, tied = base_rows(model)
    chunks = text_chunks(texts, opts.chunk_chars)
    if len(chunks) < opts.buffer_texts:
        raise TokkitError(f"the corpus gives {len(chunks)} text chunks of ~{opts.chunk_chars} characters; "
                          f"at least {opts.buffer_texts} are needed")
    special_ids = {t.id for t in old.vocab.added}
    normal_old = np.array([i for i in range(rows.shape[0]) if i not in special_ids])
    return _Run(model=model, old=old, rows=rows, tied=tied, d=model.get_input_embeddings().weight.shape[1],
                old_index=old.vocab.index(), normal_old=normal_old, chunks=chunks, opts=opts, ranks=ranks)


def _train(base, texts, out: Path, opts: HyperTrainOptions, eval_tokenizers, eval_texts, resume: bool, progress,
           ranks: Ranks, dev) -> dict:
    import torch

    from .distributed import agree_on_start, wrap

    run = _prepare(base, texts, opts, ranks, dev)
    cfg = HyperNetConfig(d_model=run.d, tied=run.tied, base_fingerprint=fingerprint([run.rows]), base_name=str(base),
                         hidden=opts.hidden, layers=opts.layers, heads=opts.heads, max_pieces=opts.max_pieces,
                         residual=opts.residual)
    torch.manual_seed(opts.seed)
    net = build(cfg).to(dev)
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=0.0)
    start, log = 0, []
    ck = out / CHECKPOINT
    if resume and ck.exists():
        start, log = _resume(ck, net, optim, cfg, opts)
    agree_on_start(start, ranks, dev)
    evaluate = _evaluator(run, net, eval_tokenizers, eval_texts) if ranks.main else None  # the others wait
    if evaluate and start == 0:
        log.append({"step": 0, "seconds": 0.0, "eval_bpb": evaluate()})
    _loop(run, net, wrap(net, ranks, dev), optim, start, log, ck, cfg, evaluate, progress)
    if ranks.main:
        from ..io import write_text_atomic

        net.eval()
        save_hypernet(net, out, extra={"options": asdict(opts), "steps": opts.steps})
        write_text_atomic(out / LOG, "".join(json.dumps(r) + "\n" for r in log))
    return log[-1] if log else {}


def _evaluator(run: _Run, net, eval_tokenizers: dict[str, str] | None, eval_texts) -> Callable[[], dict] | None:
    """What an evaluation computes: bits per byte with each evaluation tokenizer's rows (None
    without evaluation tokenizers or texts)."""
    if not (eval_tokenizers and eval_texts):
        return None
    evals = {k: Tokenizer.from_file(v) for k, v in eval_tokenizers.items()}
    return lambda: _eval(run.model, net, run.old, evals, eval_texts)


def _loop(run: _Run, net, ddp, optim, start: int, log: list, ck: Path, cfg: HyperNetConfig,
          evaluate: Callable[[], dict] | None, progress) -> None:
    """Steps ``start`` .. ``opts.steps`` of ``net`` (``ddp``: the same network, wrapped in
    DistributedDataParallel when there are several ranks); rank 0 reports and writes ``ck``."""
    import torch

    opts = run.opts
    t_start = time.perf_counter() - (log[-1]["seconds"] if log else 0.0)
    for step in range(start, opts.steps):
        ddp.train()
        loss, rec = _step(run, ddp, np.random.default_rng([opts.seed, step]), step)
        if loss is None:  # the same on every rank: they draw the same step
            continue
        if not math.isfinite(rec["loss"]):  # the global loss: every rank stops here
            raise TokkitError(f"the training loss is not a finite number at step {step + 1} ({rec['loss']}); "
                              "lower the learning rate (the last checkpoint is kept)")
        optim.zero_grad(set_to_none=True)
        loss.backward()  # under DDP the gradients are averaged over the ranks here
        torch.nn.utils.clip_grad_norm_(net.parameters(), opts.grad_clip)
        optim.step()
        rec["seconds"] = round(time.perf_counter() - t_start, 2)
        last = step + 1 == opts.steps
        if evaluate and ((step + 1) % opts.eval_every == 0 or last):
            net.eval()
            t_eval = time.perf_counter()
            rec["eval_bpb"] = evaluate()
            t_start += time.perf_counter() - t_eval  # "seconds" counts training time, not evaluations
        log.append(rec)
        if run.ranks.main and progress:
            progress(step + 1, opts.steps, rec)
        if run.ranks.main and ((step + 1) % opts.checkpoint_every == 0 or last):
            _checkpoint(ck, net, optim, step + 1, log, cfg, opts, run.ranks.world)


def _step(run: _Run, net, rng: np.random.Generator, step: int):
    """(loss of this rank, log record with the global values), or (None, None) for a step that
    found no sequence long enough."""
    if step < run.opts.warmup_steps:
        return _warmup_step(run, net, rng, step)
    if _sampler_of(run.opts, step) == "dynamic":
        return _dynamic_step(run, net, rng, step)
    return _zett_step(run, net, rng, step)


def _sampler_of(opts: HyperTrainOptions, step: int) -> str:
    """The tokenizer sampler of a step: ``mixed`` alternates unigram and dynamic steps."""
    if opts.sampler == "mixed":
        return "dynamic" if step % 2 else "unigram"
    return opts.sampler


def _warmup_step(run: _Run, net, rng, step: int):
    """Regress single old tokens onto their own rows (every rank the same 2048 one-piece rows:
    cheaper than splitting them, and DDP's mean of equal gradients is that gradient)."""
    import torch

    rows = run.rows
    ids = torch.as_tensor(rng.choice(run.normal_old, size=min(2048, len(run.normal_old)), replace=False),
                          device=rows.device)
    pred = net(rows[ids][:, None, :], torch.ones(len(ids), 1, dtype=torch.bool, device=rows.device))
    loss = torch.nn.functional.mse_loss(pred, rows[ids])
    return loss, {"step": step + 1, "phase": "warmup", "loss": float(loss.detach())}


def _aux_loss(net, rows, ids, rng):
    """The squared error of one-piece predictions of a sample of ``ids`` against their own rows
    (keeps the correction of one-piece inputs near zero; the same on every rank)."""
    import torch

    sample = rng.choice(ids, size=min(1024, len(ids)), replace=False)
    if not len(sample):
        return rows.sum() * 0
    t = torch.as_tensor(sample, device=rows.device)
    pred = net(rows[t][:, None, :], torch.ones(len(t), 1, dtype=torch.bool, device=rows.device))
    return torch.nn.functional.mse_loss(pred, rows[t])


def _lm_term(run: _Run, table, ids):
    """(this rank's LM term, the global batch's mean LM loss) for the global batch ``ids`` [B, T]
    whose rows are ``table`` (every rank predicts the same table).

    The term is the cross-entropy summed over this rank's slice of the sequences, divided by the
    predicted tokens of the whole global batch and multiplied by the number of ranks, because
    DistributedDataParallel averages gradients over the ranks: the average is then the gradient
    of the global batch's mean, as one process computes it."""
    part = ids[run.ranks.share(len(ids))]
    n = ids.shape[0] * (ids.shape[1] - 1)  # every sequence has seq_len tokens
    total = lm_loss(run.model, table, part, run.tied, run.d, reduction="sum") if len(part) else table.sum() * 0
    (global_total,) = all_sum([float(total.detach())], run.ranks, run.rows.device)
    return total * (run.ranks.world / n), global_total / n


def _zett_step(run: _Run, net, rng, step: int):
    """ZeTT's step: a sampled Unigram tokenizer, its whole vocabulary predicted, the LM loss."""
    import torch

    opts, rows, dev = run.opts, run.rows, run.rows.device
    pick = rng.choice(len(run.chunks), size=opts.buffer_texts, replace=False)
    buf = [run.chunks[i] for i in pick]
    tok = sample_tokenizer(buf, int(rng.choice(opts.vocab_sizes)), rng, noise=opts.noise)
    enc = [e for e in tok.encode_batch(buf[: opts.batch * 2], special="text") if len(e) >= opts.seq_len][: opts.batch]
    if not enc:
        return None, None
    ids = torch.as_tensor(np.array([e[: opts.seq_len] for e in enc], dtype=np.int64), device=dev)
    pieces, lengths = decompose(tok.tokens, run.old, opts.max_pieces)
    single = np.array([run.old_index.get(b, -1) for b in tok.tokens])
    is_single = single >= 0
    if opts.copy_shared:
        # as when the hypernetwork is applied (zett_rows): a token that is one old token
        # keeps its old row; only the others are predicted (and trained through the LM loss)
        multi = np.flatnonzero(~is_single)
        table = rows[torch.as_tensor(np.where(is_single, single, 0), device=dev)].clone()
        table[torch.as_tensor(multi, device=dev)] = predict(net, rows, pieces[multi], lengths[multi])
        aux = _aux_loss(net, rows, single[is_single], rng)
    else:
        table = predict(net, rows, pieces, lengths)
        si = torch.as_tensor(np.flatnonzero(is_single), device=dev)
        so = torch.as_tensor(single[is_single], device=dev)
        aux = torch.nn.functional.mse_loss(table[si], rows[so]) if len(si) else table.sum() * 0
    lm, lm_mean = _lm_term(run, table, ids)
    aux_v = float(aux.detach())
    return lm + opts.aux_weight * aux, {"step": step + 1, "phase": "zett", "loss": lm_mean + opts.aux_weight * aux_v,
                                        "lm_loss": lm_mean, "aux": aux_v, "vocab": len(tok.tokens)}


def _dynamic_step(run: _Run, net, rng, step: int):
    """Dynamic tokenization's step: a batch merged at a random budget (half of the steps to word
    level, the others to a reduction drawn from 5-30%), the merged tokens predicted, the LM loss
    over the model's vocabulary plus the merged tokens (input and output rows)."""
    import torch

    from ..dynamic.embed import pad_pieces
    from ..dynamic.merge import Budget, merge_batch

    opts, rows = run.opts, run.rows
    pick = rng.choice(len(run.chunks), size=min(len(run.chunks), opts.batch * 2), replace=False)
    texts = [run.chunks[i] for i in pick]
    budget = Budget(word=True) if rng.random() < 0.5 else Budget(reduction=float(rng.uniform(0.05, 0.3)))
    # the merges are the global batch's (batch-level BPE): every rank merges all of it
    batch = merge_batch(texts, run.old, budget, "word", max_pieces=opts.max_pieces)
    seqs = [s[: opts.seq_len] for s in batch.ids if len(s) >= opts.seq_len][: opts.batch]
    if not seqs or not batch.new_tokens:
        return None, None
    ids = torch.as_tensor(np.stack(seqs), device=rows.device)
    pieces, lengths = pad_pieces(batch.new_tokens, opts.max_pieces)
    table = torch.cat([rows, predict(net, rows, pieces, lengths)])
    aux = _aux_loss(net, rows, run.normal_old, rng)
    lm, lm_mean = _lm_term(run, table, ids)
    aux_v = float(aux.detach())
    return lm + opts.aux_weight * aux, {"step": step + 1, "phase": "dynamic",
                                        "loss": lm_mean + opts.aux_weight * aux_v, "lm_loss": lm_mean, "aux": aux_v,
                                        "merged": len(batch.new_tokens), "reduction": round(batch.reduction, 4)}


def _checkpoint(path: Path, net, optim, step: int, log: list, cfg: HyperNetConfig, opts: HyperTrainOptions,
                world: int = 1) -> None:
    """:func:`tokkit.checkpoint.save_state`: the network's tensors as ``net.*``, the rest as JSON
    (with the number of ranks that trained, for the record: a resume may use another number)."""
    from ..checkpoint import save_state

    save_state(path, "hypernet", {f"net.{k}": v for k, v in net.state_dict().items()}, optim,
               {"step": step, "log": log, "config": asdict(cfg), "options": asdict(opts), "world_size": world})


def _resume(path: Path, net, optim, cfg: HyperNetConfig, opts: HyperTrainOptions) -> tuple[int, list]:
    """Load a checkpoint into ``net`` and ``optim`` (and torch's RNG); (step, log)."""
    from ..checkpoint import read_state, restore_optimizer

    tensors, meta = read_state(path, "hypernet")
    volatile = {"steps", "eval_every", "checkpoint_every", "threads", "device"}  # may change on resume
    same = {k: v for k, v in asdict(opts).items() if k not in volatile}
    theirs = meta.get("options") if isinstance(meta.get("options"), dict) else {}
    if meta.get("config") != asdict(cfg) or {k: v for k, v in theirs.items() if k not in volatile} != same:
        raise TokkitError(f"{path}: a checkpoint of another run (other base model or options); "
                          "use another --out or remove it")
    try:
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        step, log = int(meta["step"]), list(meta["log"])
    except (KeyError, ValueError, TypeError, RuntimeError) as e:  # shapes, missing entries
        raise FormatError(path, f"an inconsistent checkpoint ({type(e).__name__}: {one_line(e)})") from None
    restore_optimizer(path, optim, tensors, meta)
    return step, log


def apply_hypernet(hypernet_dir: str | os.PathLike, model, old: Tokenizer, new: Vocabulary, copy_shared: bool = True):
    """Rows for ``new`` from a saved hypernetwork; refuses one trained for another base model."""
    rows, _ = base_rows(model)
    net = load_hypernet(hypernet_dir, base_fingerprint=fingerprint([rows])).to(rows.device)
    net.eval()
    return zett_rows(net, model, old, new, copy_shared=copy_shared)


__all__ = ["HyperTrainOptions", "apply_hypernet", "load_base", "train_hypernet", "zett_rows"]
