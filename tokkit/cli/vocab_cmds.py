"""tokkit inspect / convert / encode."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import TokkitError


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
@click.option("--force", is_flag=True, help="Write into an existing non-empty directory / over an existing file.")
@click.option("--pattern", default=None, help="Split regex for a bare tiktoken rank file (preset name or regex).")
def convert(src: str, out: str, fmt: str, force: bool, pattern: str | None) -> None:
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


@click.command()
@click.argument("path")
@click.argument("text", required=False)
@click.option("--file", "file_", type=click.Path(dir_okay=False), help="Encode this file's text instead.")
@click.option("--special/--no-special", default=False, help="Add BOS/EOS as the tokenizer does.")
@click.option("--tokens", "show_tokens", is_flag=True, help="Print token strings too.")
def encode(path: str, text: str | None, file_: str | None, special: bool, show_tokens: bool) -> None:
    """Encode TEXT (or --file) and print the ids."""
    from ..tokenizer import load

    if text is None and file_ is None:
        raise TokkitError("give TEXT or --file")
    if file_ is not None:
        try:
            text = Path(file_).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TokkitError(f"{file_}: no such file") from None
        except UnicodeDecodeError as e:
            raise TokkitError(f"{file_}: not UTF-8 text (byte {e.start})") from None
    tok = load(path)
    ids = tok.encode(text or "", add_special_tokens=special)
    click.echo(" ".join(str(int(i)) for i in ids))
    if show_tokens:
        click.echo(" | ".join(repr(tok.vocab.tokens[int(i)])[2:-1] for i in ids))


COMMANDS = [inspect, convert, encode]
