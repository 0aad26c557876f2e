"""tokkit inspect / convert / encode."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import TokkitError
from ..tokenizer import SPECIAL_POLICIES


@click.command()
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--pattern", default=None, help="Split regex for a bare tiktoken rank file (preset name or regex).")
def inspect(path: str, as_json: bool, pattern: str | None) -> None:
    """Summarise a tokenizer: kind, size, specials, byte coverage, pretokenizer."""
    from ..vocab import read_vocab

    v = read_vocab(path, pattern=pattern)
    s = v.summary()
    s = {"path": path, **s}
    if as_json:
        click.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return
    width = max(len(k) for k in s)
    for k, val in s.items():
        if isinstance(val, list):
            val = "; ".join(val) if val else "-"
        elif isinstance(val, dict):
            val = ", ".join(f"{a}={b}" for a, b in val.items()) if val else "-"
        click.echo(f"{k:<{width}}  {val}")


@click.command()
@click.argument("src")
@click.argument("out")
@click.option("--to", "fmt", type=click.Choice(["hf", "tiktoken", "sentencepiece", "gguf"]), required=True,
              help="Output format.")
@click.option("--force", is_flag=True,
              help="Replace an existing non-empty output directory (as a whole) / an existing file.")
@click.option("--pattern", default=None, help="Split regex for a bare tiktoken rank file (preset name or regex).")
@click.option("--verify", is_flag=True,
              help="After writing hf: compare stock AutoTokenizer on OUT with the original library on the "
                   "bundled UDHR (521 languages) and legal text; exit 1 on any difference.")
def convert(src: str, out: str, fmt: str, force: bool, pattern: str | None, verify: bool) -> None:
    """Convert a tokenizer to another format (hf: a directory; tiktoken/sentencepiece/gguf: a file)."""
    from ..io import atomic_dir, refuse_overwrite_inputs
    from ..vocab import read_vocab, write_vocab

    refuse_overwrite_inputs([out], [src] if not src.startswith("tiktoken:") else [])
    v = read_vocab(src, pattern=pattern)
    outp = Path(out)
    if fmt == "hf":
        with atomic_dir(outp, force=force) as tmp:
            write_vocab(v, tmp, format="hf")
        written = [outp / n for n in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")]
    else:
        if outp.exists() and not force:
            raise TokkitError(f"{outp}: exists (use --force to replace it)")
        written = write_vocab(v, outp, format=fmt)
    for w in written:
        click.echo(str(w))
    if verify:
        if fmt != "hf":
            raise TokkitError("--verify checks an hf output (stock AutoTokenizer); use --to hf")
        _verify(src, outp)


def _verify(src: str, out: Path) -> None:
    from .. import corpora
    from ..vocab.verify import compare, reference_encoder, reference_name, stock_hf_encoder

    texts, labels = [], []
    for code, units in corpora.udhr_parallel().items():
        texts += units
        labels += [f"udhr:{code}:article {i}" for i in range(1, len(units) + 1)]
    legal = list(corpora.open_corpus("legal", split="all"))
    texts += legal
    labels += [f"legal:{i}" for i in range(len(legal))]
    with _progress() as bar:
        task = bar.add_task("verifying", total=len(texts))
        r = compare(texts, reference_encoder(src), stock_hf_encoder(out), labels=labels,
                    on_batch=lambda n: bar.advance(task, n))
    click.echo(f"verify: {r.texts - r.mismatched}/{r.texts} texts identical to {reference_name(src)} "
               f"({r.tokens:,} tokens, {len(corpora.udhr_languages())} UDHR languages + legal)")
    for ex in r.examples:
        click.echo(f"  differs: {ex}")
    if r.mismatched:
        raise SystemExit(1)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    transient=True)


@click.command()
@click.argument("path")
@click.argument("text", required=False)
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="Encode this file's text instead.")
@click.option("--special-text", type=click.Choice(SPECIAL_POLICIES), default="allow", show_default=True,
              help="Special-token text in the input (<|endoftext|>, [INST]...): allow = its id (HF's "
                   "behaviour), text = ordinary text (tiktoken's encode_ordinary), raise = refuse the input.")
@click.option("--add-special/--no-add-special", "--special/--no-special", "add_special", default=False,
              help="Add BOS/EOS as the tokenizer's post-processor does.")
@click.option("--tokens", "show_tokens", is_flag=True, help="Print token strings too.")
@click.option("--offsets", "show_offsets", is_flag=True, help="Print each token's UTF-8 byte span START:END too.")
@click.option("--dropout", type=float, default=None, metavar="P",
              help="BPE vocabularies: a BPE-dropout sample, every merge skipped with probability P "
                   "(subword regularisation; 0: the canonical ids).")
@click.option("--alpha", type=float, default=None, metavar="A",
              help="Unigram vocabularies: a sampled segmentation (sentencepiece's alpha: lower is more varied).")
@click.option("--nbest", type=int, default=None, metavar="N",
              help="With --alpha: sample among the N best segmentations (default -1: all of them).")
@click.option("--seed", type=int, default=None, metavar="S",
              help="Seed of --dropout/--alpha: the same seed gives the same sample (default: a fresh one).")
def encode(path: str, text: str | None, file_: str | None, special_text: str, add_special: bool,
           show_tokens: bool, show_offsets: bool, dropout: float | None, alpha: float | None, nbest: int | None,
           seed: int | None) -> None:
    """Encode TEXT (or --file) and print the ids (a sampled segmentation with --dropout or --alpha)."""
    from ..textio import read_text, text_argument
    from ..tokenizer import load

    if text is None and file_ is None:
        raise TokkitError("give TEXT or --file")
    if text is not None:
        text_argument(text, "TEXT")
    if file_ is not None:
        text = read_text(file_)  # a regular file, at most textio.MAX_RECORD_BYTES
    tok = load(path)
    sampling = dict(dropout=dropout, alpha=alpha, nbest=nbest, seed=seed)
    if alpha is None or show_offsets:  # Unigram samples come without offsets (the error says so)
        enc = tok.encode_offsets([text or ""], special=special_text, add_special_tokens=add_special, **sampling)
        ids, starts, ends = enc[0]
    else:
        ids = tok.encode(text or "", special=special_text, add_special_tokens=add_special, **sampling)
    click.echo(" ".join(str(int(i)) for i in ids))
    if show_tokens:
        click.echo(" | ".join(repr(tok.vocab.tokens[int(i)])[2:-1] for i in ids))
    if show_offsets:
        click.echo(" ".join(f"{int(a)}:{int(b)}" for a, b in zip(starts, ends)))


@click.command()
@click.argument("path")
@click.argument("ids", nargs=-1, required=True)
@click.option("--skip-special", is_flag=True, help="Leave special tokens (BOS, <|endoftext|>...) out.")
@click.option("--strict", is_flag=True, help="Refuse ids whose bytes are not valid UTF-8 (default: U+FFFD).")
def decode(path: str, ids: tuple[str, ...], skip_special: bool, strict: bool) -> None:
    """Decode IDS (integers, spaces or commas between them) with the tokenizer at PATH."""
    from ..tokenizer import load

    values = []
    for part in " ".join(ids).replace(",", " ").split():
        if not (part.isascii() and part.isdigit()):
            raise TokkitError(f"IDS: {part!r} is not a token id")
        values.append(int(part))
    if not values:
        raise TokkitError("IDS: no token ids")
    tok = load(path)
    bad = next((i for i in values if i >= len(tok)), None)
    if bad is not None:
        raise TokkitError(f"IDS: id {bad} is out of range (the tokenizer has {len(tok):,} tokens)")
    try:
        click.echo(tok.decode(values, skip_special_tokens=skip_special, errors="strict" if strict else "replace"))
    except UnicodeDecodeError as e:
        raise TokkitError(f"IDS: not valid UTF-8 ({e.reason} at byte {e.start}); leave out --strict to see "
                          "U+FFFD instead") from None


COMMANDS = [inspect, convert, encode, decode]
