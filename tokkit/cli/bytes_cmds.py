"""tokkit bytes score | sample | complete: byte-level probabilities from a token-level LM."""

from __future__ import annotations

import json
import sys

import click

def _common(f):
    f = click.option("--semantics", type=click.Choice(["canonical", "all"]), default="canonical", show_default=True,
                     help="canonical: only tokenizations the tokenizer produces; all: every tokenization.")(f)
    f = click.option("--beam", type=click.IntRange(min=1), default=None,
                     help="Keep at most this many token contexts (default: exact for canonical, 32 for all).")(f)
    return f


def _lm(model, semantics, beam):
    from ..bytes import ByteLM

    return ByteLM.from_pretrained(model, semantics=semantics, beam="auto" if beam is None else beam)


def _unescape(s: str) -> bytes:
    """A prompt given on the command line: UTF-8, with \\n, \\t and \\xHH escapes."""
    from ..errors import TokkitError

    try:
        return s.encode("utf-8").decode("unicode_escape").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError) as e:
        raise TokkitError(f"prompt {s!r}: bad escape ({e})") from None


@click.group("bytes")
def bytes_group() -> None:
    """Exact byte-level probabilities from a token-level language model."""


@bytes_group.command("score")
@click.argument("model")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--text", "texts", multiple=True, help="Score this text (repeatable); escapes as in --prompt.")
@_common
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def score_cmd(model, files, texts, semantics, beam, as_json):
    """Bits per byte of FILES and/or --text under MODEL at the byte level, each text and in all
    (--json: every text's record too). MODEL is an HF model directory (config.json + tokenizer
    files) or a GGUF file. A progress bar of bytes shows on a terminal."""
    from ..errors import TokkitError
    from ..textio import read_bytes

    items = [_unescape(t) for t in texts] + [read_bytes(f) for f in files]  # regular files, bounded
    names = [f"--text {i + 1}" for i in range(len(texts))] + [str(f) for f in files]
    if not items:
        raise TokkitError("nothing to score: give FILES or --text")
    r = _lm(model, semantics, beam).score(items, progress=sys.stderr.isatty(), names=names)
    if as_json:
        click.echo(json.dumps(r, indent=2, allow_nan=False))
        return
    if len(items) > 1:
        for t in r["texts"]:
            click.echo(f"{t['bits_per_byte']:.4f} bits/byte  {t['bytes']:>8} bytes  {t['name']}")
    click.echo(f"{r['bits_per_byte']:.4f} bits/byte over {r['bytes']} bytes ({semantics}); "
               f"{r['forwards_per_byte']:.3f} model calls/byte, {r['bytes_per_second']:.1f} bytes/s")


@bytes_group.command("sample")
@click.argument("model")
@click.option("--prompt", default="", help="Prompt (may end inside a token); \\n, \\t, \\xHH escapes.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--temperature", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="0: greedy.")
@click.option("--seed", type=click.IntRange(min=0), default=None)
@click.option("-n", "count", type=click.IntRange(min=1), default=1, show_default=True, help="Number of samples.")
@_common
def sample_cmd(model, prompt, max_bytes, temperature, seed, count, semantics, beam):
    """Sample bytes one at a time from MODEL (an HF model directory or a GGUF file)."""
    lm = _lm(model, semantics, beam)
    p = _unescape(prompt)
    for k in range(count):
        out = lm.sample(p, max_bytes=max_bytes, temperature=temperature, seed=None if seed is None else seed + k)
        lm.reset()
        click.echo(json.dumps((p + out).decode("utf-8", "backslashreplace")))


@bytes_group.command("complete")
@click.argument("model")
@click.argument("prompt")
@click.option("--max-bytes", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--stop", multiple=True, help="Stop after this string (repeatable); escapes as in PROMPT.")
@_common
def complete_cmd(model, prompt, max_bytes, stop, semantics, beam):
    """Greedy byte-level completion of PROMPT, which may end in the middle of a token (\\n, \\t
    and \\xHH escapes). MODEL is an HF model directory or a GGUF file."""
    lm = _lm(model, semantics, beam)
    out = lm.complete(_unescape(prompt), max_bytes=max_bytes, stop=[_unescape(s) for s in stop])
    click.echo(out.decode("utf-8", "backslashreplace"))


COMMANDS = [bytes_group]
