"""Healing a transplanted model (``tokkit heal``): a short training step after ``tokkit
transplant`` that brings the student (the model with its new tokenizer) back towards the
teacher (the original model with its own tokenizer) by cross-tokenizer distillation.

    from tokkit.heal import heal, HealOptions
    heal("smol-gpt2/", "SmolLM2-135M-Instruct.Q4_1.gguf", ["corpus:legal"], "smol-gpt2-healed/",
         HealOptions(loss="alm+lm", train="new-rows", minutes=10), eval_texts={"en": [text]})

Objectives (``loss``): ``lm`` (next-token cross-entropy on the new tokenization), ``alm``
(approximate likelihood matching against the teacher over chunks both tokenizations agree on),
or a weighted mix (``alm:1+lm:0.2``). What trains (``train``): ``new-rows`` (default),
``embeddings`` or ``lora``. See :mod:`.losses`, :mod:`.params` and docs/transplant.md ("Heal").

The output is a stock checkpoint (``AutoModelForCausalLM``/``AutoTokenizer`` load it) with the
student's tokenizer files, its ``transplant_record.json`` and a ``heal_record.json`` (options,
loss and held-out curve). Checkpoints go to ``OUT.heal-state/`` every ``checkpoint_every`` steps;
running the same command again resumes from there (the same result as an uninterrupted run);
the state is removed once the output is written.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FormatError, TokkitError
from .options import LOSSES, TRAIN, HealOptions, parse_loss

__all__ = ["heal", "HealOptions", "LOSSES", "TRAIN", "parse_loss", "new_rows"]

RECORD = "transplant_record.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", RECORD)


def new_rows(student: Path) -> tuple[np.ndarray, dict]:
    """Ids of the rows the transplant made (not copied, byte-matched or special), and the record."""
    p = Path(student) / RECORD
    try:
        rec = json.loads(p.read_text(encoding="utf-8"))
        rows = rec["rows"]
        if not isinstance(rows, list):
            raise TypeError("rows is not a list")
    except FileNotFoundError:
        raise FormatError(p, "no transplant record: STUDENT must be a `tokkit transplant` output") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FormatError(p, f"not a transplant record ({e})") from None
    made = [i for i, r in enumerate(rows) if not (isinstance(r, dict) and "old_id" in r)]
    return np.asarray(made, np.int64), rec


def check_teacher(teacher_vocab, student_vocab, record: dict, teacher_path) -> None:
    """The teacher must be the transplant's base model: the same vocabulary (the record's digest),
    or for a record without one, every copied row's old id spelling what the new token spells."""
    base = record.get("summary", {}).get("base_vocab") if isinstance(record.get("summary"), dict) else None
    if isinstance(base, dict) and "digest" in base:
        if teacher_vocab.digest() != base["digest"]:
            raise TokkitError(f"{teacher_path}: not the model this student was transplanted from (its vocabulary "
                              f"differs from the transplant's base, {base.get('size')} tokens)")
        return
    rows = record["rows"]
    tv, sv = teacher_vocab.tokens, student_vocab.tokens
    copied = [(i, r["old_id"]) for i, r in enumerate(rows) if isinstance(r, dict) and r.get("how") == "copied"]
    bad = sum(1 for i, o in copied if not (isinstance(o, int) and 0 <= o < len(tv) and i < len(sv) and tv[o] == sv[i]))
    if not copied or bad > len(copied) // 100:
        raise TokkitError(f"{teacher_path}: not the model this student was transplanted from ({bad:,} of "
                          f"{len(copied):,} copied rows spell other bytes in its vocabulary)")


def _device(opts: HealOptions):
    import torch

    if opts.threads:
        torch.set_num_threads(opts.threads)
    return torch.device(opts.device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _identity(student: Path, teacher, pieces_digest: str) -> dict:
    from ..io import sha256_file

    weights = sorted(Path(student).glob("*.safetensors"))
    return {"student": [sha256_file(w)[:16] for w in weights], "teacher": str(Path(teacher).resolve()),
            "pieces": pieces_digest}


def heal(student: str | os.PathLike, teacher: str | os.PathLike, corpora: Sequence[str], out: str | os.PathLike,
         opts: HealOptions, eval_texts: dict[str, list[str]] | None = None, force: bool = False,
         progress=None) -> dict:
    """Heal ``student`` (a ``tokkit transplant`` output) against ``teacher`` (its base model) on
    ``corpora`` (files or ``corpus:NAME[:LANG]``) and write ``out``. Returns the heal record."""
    from ..io import check_output_dir, refuse_overwrite_inputs
    from ..train.run import resolve_sources
    from .data import cut_pieces, pieces_digest

    student, out = Path(student), Path(out)
    sources = resolve_sources(corpora)
    refuse_overwrite_inputs([out, _state_dir(out)], [student, teacher] + [s.path for s in sources if s.path])
    check_output_dir(out, force)
    made, record = new_rows(student)
    from ..lm import load_model
    from ..vocab import read_vocab

    # the vocabularies first: a wrong teacher is refused before two models are read
    check_teacher(read_vocab(teacher), read_vocab(student), record, teacher)
    # and the corpus: a broken shard is refused before the models are read
    texts = (t for s in sources for t in s.texts(opts.text_field, "strict"))
    pieces = cut_pieces(texts, opts.piece_bytes, opts.max_pieces)
    device = _device(opts)
    t_model, t_tok = load_model(teacher)
    s_model, s_tok = load_model(student)
    run = _make_run(opts, s_model, s_tok, t_model, t_tok, made, pieces, device)
    identity = _identity(student, teacher, pieces_digest(pieces))
    record = _train(run, out, identity, eval_texts or {}, s_tok, progress)
    _write(run, student, out, record, force)
    shutil.rmtree(_state_dir(out), ignore_errors=True)
    return record


def _state_dir(out: Path) -> Path:
    return out.parent / f"{out.name}.heal-state"


def _make_run(opts, s_model, s_tok, t_model, t_tok, made, pieces, device):
    import torch

    from ..lm import prefix_id
    from . import params
    from .data import Encoded
    from .loop import Run

    torch.manual_seed(opts.seed)
    t_model.to(device).eval()
    for p in t_model.parameters():
        p.requires_grad_(False)
    s_model.to(device).eval()  # no dropout: a step is a function of the weights and the batch
    trainable = params.setup(s_model, opts.train, made, opts.lr, opts.lr_lora, opts.lora_rank)
    return Run(opts, trainable, t_model, Encoded.of(s_tok, pieces), Encoded.of(t_tok, pieces), prefix_id(s_tok),
               prefix_id(t_tok), device, new_rows=len(made))


def _evaluate(run, s_tok, eval_texts: dict) -> dict:
    from ..lm import bits_per_byte

    model = run.student.model
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return {k: round(bits_per_byte(base, s_tok, v)["bits_per_byte"], 5) for k, v in eval_texts.items()}


def _train(run, out: Path, identity: dict, eval_texts: dict, s_tok, progress) -> dict:
    import torch

    from .loop import done, resume, save_checkpoint, train_step

    optim = torch.optim.AdamW(run.student.groups, weight_decay=0.0, betas=(0.9, 0.999))
    ckpt = _state_dir(out) / "checkpoint.safetensors"
    if ckpt.exists():
        resume(ckpt, run, optim, identity)
    _load_teacher_cache(run, identity)
    if not run.log and eval_texts:
        run.log.append({"step": 0, "seconds": 0.0, "eval": _evaluate(run, s_tok, eval_texts)})
    t_start = time.perf_counter()
    while not done(run):
        before = run.seconds
        entry = train_step(run, optim)
        crossed = any(before < 60 * m <= run.seconds for m in run.opts.eval_minutes)
        if eval_texts and (run.step % run.opts.eval_every == 0 or crossed or done(run)):
            entry["eval"] = _evaluate(run, s_tok, eval_texts)
        run.log.append(entry)
        if progress:
            progress(run.step, run.opts.steps, entry)
        if run.step % run.opts.checkpoint_every == 0 and not done(run):
            save_checkpoint(ckpt, run, optim, identity)
            _save_teacher_cache(run, identity)
    _save_teacher_cache(run, identity)
    losses = [e["loss"] for e in run.log if "loss" in e]
    return {"options": {**run.opts.fingerprint(), "steps": run.opts.steps, "minutes": run.opts.minutes},
            "identity": identity, "steps": run.step, "train_seconds": round(run.seconds, 1),
            "teacher_seconds": round(run.teacher_seconds, 1), "tokens": run.tokens,
            "tokens_per_second": round(run.tokens / max(run.seconds, 1e-9), 1), "new_rows": run.new_rows,
            "wall_seconds_this_run": round(time.perf_counter() - t_start, 1),
            "final_loss": losses[-1] if losses else None,
            "log": run.log}


def _teacher_cache_path(identity: dict) -> Path:
    import hashlib

    from ..io import cache_dir

    key = hashlib.sha256(json.dumps([identity["teacher"], identity["pieces"]]).encode()).hexdigest()[:20]
    return cache_dir() / "heal" / f"teacher-{key}.safetensors"


def _load_teacher_cache(run, identity: dict) -> None:
    """The teacher's log-probabilities of earlier runs on the same pieces (a second epoch or a
    second run costs no teacher forward). A damaged cache file is ignored and rewritten."""
    p = _teacher_cache_path(identity)
    if not p.exists():
        return
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        run.teacher_lp.update({int(k[1:]): v for k, v in load_file(str(p)).items()})
    except (OSError, SafetensorError, ValueError):
        run.teacher_lp.clear()


def _save_teacher_cache(run, identity: dict) -> None:
    if not run.teacher_lp:
        return
    from safetensors.torch import save_file

    from ..io import atomic_path

    p = _teacher_cache_path(identity)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        save_file({f"p{k}": v.contiguous() for k, v in run.teacher_lp.items()}, str(tmp))


def _write(run, student: Path, out: Path, record: dict, force: bool) -> None:
    from ..io import atomic_dir, write_json_atomic
    from .params import final_model

    model = final_model(run.student, run.opts.merge_lora)
    for p in model.parameters():
        p.requires_grad_(False)
    with atomic_dir(out, force=force) as tmp:
        model.to("cpu").save_pretrained(tmp, safe_serialization=True)
        for name in TOKENIZER_FILES:
            if (student / name).exists():
                shutil.copyfile(student / name, tmp / name)
        write_json_atomic(tmp / "heal_record.json", record, indent=1)
