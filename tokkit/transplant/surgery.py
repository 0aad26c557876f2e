"""``transplant(model, tokenizer, out, method="hybrid")``: the whole operation.

Load the model (HF directory or GGUF, :func:`tokkit.lm.load_model`) and both tokenizers, align
on bytes, fill the missing rows with the method, then write a new checkpoint: the input
embeddings and the LM head resized to the new vocabulary (optionally padded to a multiple; the
padding rows are never produced by the tokenizer and get the mean row), tied or untied (a tied
model is untied only when the head rows of new tokens differ from their input rows); config and
generation_config ids (bos, eos, pad) from the new tokenizer's roles; the new tokenizer's files;
the old chat template only if every special token it uses exists in the new vocabulary; and
``transplant_record.json`` (a summary and how each row was made). Everything is written to a
temporary directory and renamed; the input model is never touched, an output inside an input is
refused, and an existing non-empty output is refused unless ``force``.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

from ..align import align
from ..errors import TokkitError
from ..tokenizer import Tokenizer
from ..vocab import Vocabulary
from .fill import fill_rows
from .options import DEFAULT_METHOD, Method, MethodOptions, Progress


def _template_ok(template: str, new_tokens: set[str]) -> bool:
    used = set(re.findall(r"<\|[^|<>]{1,40}\|>|<[a-z_]{1,20}>|\[[A-Z_]{2,30}\]|<start_of_turn>|<end_of_turn>", template))
    return used <= new_tokens


def _check_paths(out: Path, inputs: list, force: bool) -> None:
    from ..io import check_output_dir, refuse_overwrite_inputs

    refuse_overwrite_inputs([out], inputs)
    check_output_dir(out, force)


def _check_tokenizer(tok: Tokenizer, path) -> None:
    v = tok.vocab
    ordinary = [b for b, t in zip(v.tokens, v.types) if t.name in ("NORMAL", "BYTE", "USER_DEFINED") and b]
    if not ordinary:
        raise TokkitError(f"{path}: the tokenizer has no decodable tokens (no ordinary token spells any bytes)")


def transplant(model_path: str | os.PathLike, tokenizer_path: str | os.PathLike, out: str | os.PathLike,
               method: str | Method = DEFAULT_METHOD, opts: MethodOptions | None = None, force: bool = False,
               pad_to_multiple: int | None = None, progress: Progress | None = None) -> dict:
    """Write ``out``: the model at ``model_path`` with the tokenizer at ``tokenizer_path``.
    Returns the summary (also in ``out/transplant_record.json``)."""
    from ..lm import load_model

    opts = opts or MethodOptions()
    method = opts.check(method)  # before anything is loaded or written
    out = Path(out)
    inputs = [model_path, tokenizer_path] + [p for p in (opts.hypernet,) if p]
    if opts.donor not in ("aux", "corpus"):
        inputs.append(opts.donor)
    _check_paths(out, inputs, force)
    if pad_to_multiple is not None and (isinstance(pad_to_multiple, bool) or not isinstance(pad_to_multiple, int)
                                        or pad_to_multiple < 1):
        raise TokkitError(f"--pad-to-multiple {pad_to_multiple}: give a positive integer")
    t0 = time.perf_counter()
    new = Tokenizer.from_file(tokenizer_path)
    _check_tokenizer(new, tokenizer_path)
    if progress:
        progress("load", 0, 1)
    model, old = load_model(model_path)
    if model.get_input_embeddings() is None or not hasattr(model.get_input_embeddings(), "weight"):
        raise TokkitError(f"{model_path}: the model has no input embedding matrix")
    al = align(old.vocab, new.vocab)
    in_rows, out_rows, records = fill_rows(method, model, old, new, al, opts, progress=progress)
    was_tied = bool(getattr(model.config, "tie_word_embeddings", False))
    padded = _resize(model, model_path, method, in_rows, out_rows, pad_to_multiple)
    vocab, kept_template = _configure(model, old.vocab, new.vocab, padded)
    summary = {"model": str(model_path), "tokenizer": str(tokenizer_path), "method": method.value,
               "donor": opts.donor if method is Method.OMP else None, "head": _head_info(records, out_rows),
               "vocab_size": new.vocab.size, "padded_to": padded, "base_tied": was_tied, "tied": out_rows is None,
               "base_vocab": {"size": old.vocab.size, "digest": old.vocab.digest()}, "alignment": al.counts(),
               "rows": dict(sorted(Counter(r.get("how", "?") for r in records).items())),
               "chat_template_kept": kept_template}
    if progress:
        progress("write", 0, 1)
    return _write(out, force, model, vocab, summary, records, t0)


def _resize(model, model_path, method: Method, in_rows, out_rows, pad_to_multiple: int | None) -> int:
    """Put the new rows in the model (resized, padded to a multiple with the mean row; the head
    untied when ``out_rows`` is given, else tied); returns the padded size."""
    import torch

    if not all(bool(torch.isfinite(r).all()) for r in (in_rows, out_rows) if r is not None):
        raise TokkitError(f"{model_path}: --method {method} gave embedding rows that are not finite numbers; "
                          "nothing written")
    size, d = in_rows.shape
    padded = size if not pad_to_multiple else -(-size // pad_to_multiple) * pad_to_multiple

    def padded_rows(rows):
        full = torch.zeros(padded, d)
        full[:size] = rows
        if padded > size:
            full[size:] = rows.mean(0)
        return full

    model.resize_token_embeddings(padded, mean_resizing=False)
    model.get_input_embeddings().weight.data.copy_(padded_rows(in_rows))
    if out_rows is not None:
        head = model.get_output_embeddings()
        if head is None:
            raise TokkitError(f"{model_path}: the model has no LM head to untie")
        model.config.tie_word_embeddings = False
        if hasattr(model.config, "get_text_config"):
            model.config.get_text_config().tie_word_embeddings = False
        head.weight = torch.nn.Parameter(padded_rows(out_rows))
    else:
        model.tie_weights()
    return padded


def _configure(model, old: Vocabulary, new: Vocabulary, padded: int) -> tuple[Vocabulary, bool]:
    """Config and generation_config ids from the new tokenizer's roles, the padded vocab size; the
    vocabulary to write (with the old chat template when every special token it uses exists in
    the new vocabulary) and whether the template was kept."""
    for key, val in {"bos_token_id": new.bos_id, "eos_token_id": new.eos_id, "pad_token_id": new.pad_id}.items():
        setattr(model.config, key, val)
        if getattr(model, "generation_config", None) is not None:
            setattr(model.generation_config, key, val)
    model.config.vocab_size = padded
    meta = dict(new.meta)
    old_template = old.meta.get("chat_template")
    kept_template = False
    if old_template and not meta.get("chat_template"):
        if _template_ok(str(old_template), {t.content for t in new.added}):
            meta["chat_template"] = old_template
            kept_template = True
    return new.copy(meta=meta), kept_template


def _head_info(records: list[dict], out_rows) -> dict:
    """How the head rows of new tokens were made (the first record's, without ids and weights)."""
    heads = [r["head"] for r in records if "head" in r]
    if heads:
        return {k: v for k, v in heads[0].items() if k not in ("old_ids", "weights")}
    return {"how": "recipe" if out_rows is not None else "tied"}


def _write(out: Path, force: bool, model, vocab: Vocabulary, summary: dict, records: list[dict], t0: float) -> dict:
    """The checkpoint, the tokenizer files and transplant_record.json, in one atomic directory;
    returns the summary as written (with the tool's version and the seconds taken)."""
    from .. import __version__
    from ..io import atomic_dir, write_json_atomic
    from ..vocab import write_vocab

    summary = {"tool": f"tokkit {__version__}", **summary, "seconds": None}
    with atomic_dir(out, force=force) as tmp:
        model.save_pretrained(tmp)
        write_vocab(vocab, tmp)
        summary["seconds"] = round(time.perf_counter() - t0, 1)
        write_json_atomic(tmp / "transplant_record.json", {"summary": summary, "rows": records}, indent=None)
    return summary
