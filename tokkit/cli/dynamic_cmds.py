"""tokkit dynamic score | generate: dynamic tokenization of a model's input (docs/dynamic.md)."""

from __future__ import annotations

import json

import click

from ._progress import step_bar


@click.group("dynamic")
def dynamic() -> None:
    """Dynamic tokenization: merge a batch's frequent token pairs, embed them with a hypernetwork."""


def _setup(model, hypernet):
    from ..dynamic import MergedRows
    from ..lm import load_model

    m, tok = load_model(model)
    return m, tok, MergedRows(m, hypernet)


@dynamic.command("score")
@click.argument("model")
@click.option("--text", "text_file", required=True, type=click.Path(dir_okay=False), help="Held-out text (UTF-8).")
@click.option("--hypernet", type=click.Path(file_okay=False),
              help="The model's hypernetwork (tokkit hypernet train); without it merged tokens get FVT rows "
                   "(the mean of their pieces).")
@click.option("--budget", default="word", show_default=True,
              help="Merges per batch: a number, a target reduction ('30%'), or 'word' (whole words).")
@click.option("--mode", type=click.Choice(["prefill", "union"]), default="prefill", show_default=True,
              help="prefill: the prompt half of each chunk in dynamic tokens, the continuation scored in the model's "
                   "own tokens; union: the whole chunk in dynamic tokens, predicted over the vocabulary plus the "
                   "batch's merged tokens.")
@click.option("--boundaries", type=click.Choice(["word", "pretoken"]), default="word", show_default=True)
@click.option("--chunk-chars", type=click.IntRange(min=16), default=2000, show_default=True,
              help="The text is cut into chunks of about this many characters, each one text of a batch.")
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Chunks merged together.")
@click.option("--compare", is_flag=True, help="Also score the static tokenization (budget 0) of the same chunks.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {bits_per_byte, bytes, tokens, static_tokens, reduction, ...} as JSON.")
def score_cmd(model, text_file, hypernet, budget, mode, boundaries, chunk_chars, batch_size, compare, as_json):
    """Bits per byte of MODEL (an HF model directory or a GGUF file) on a text read in dynamic
    tokens; ``tokens`` is the length of the sequences the model ran on."""
    from ..dynamic import Budget, chunk_text, score
    from ..errors import FormatError
    from ..textio import read_text

    Budget.parse(budget)
    chunks = chunk_text(read_text(text_file), chunk_chars)  # a regular file, bounded, UTF-8
    if not chunks:
        raise FormatError(text_file, "no text with word boundaries to score")
    m, tok, rows = _setup(model, hypernet)
    runs = [("static", 0)] if compare else []
    out = {}
    for name, b in [*runs, ("dynamic", budget)]:
        with step_bar(f"{name} {mode}", len(chunks)) as update:
            r = score(m, tok, rows, chunks, b, boundaries, mode, batch_size=batch_size,
                      progress=lambda done, total: update(done, ""))
        out[name] = r.as_dict()
    res = {**out["dynamic"], "mode": mode, "budget": str(Budget.parse(budget)), "embeddings": rows.method}
    if compare:
        res["static_bits_per_byte"] = out["static"]["bits_per_byte"]
    if as_json:
        click.echo(json.dumps(res, allow_nan=False))
        return
    line = (f"{res['bits_per_byte']:.4f} bits/byte over {res['bytes']:,} bytes; {res['tokens']:,} tokens "
            f"({res['reduction']:.1%} fewer than {res['static_tokens']:,}; {mode}, budget {res['budget']}, "
            f"{rows.method} rows)")
    if compare:
        line += f"; static {res['static_bits_per_byte']:.4f}"
    click.echo(line)


@dynamic.command("generate")
@click.argument("model")
@click.option("--prompt", required=True, help="The prompt (read in the model's own tokens).")
@click.option("--hypernet", type=click.Path(file_okay=False), help="The model's hypernetwork (else FVT rows).")
@click.option("--vocab-corpus", "vocab_corpus", multiple=True, required=True,
              help="Text whose most frequent multi-token words make the dynamic output vocabulary: files or "
                   "corpus:NAME[:LANG]; repeatable.")
@click.option("--vocab-size", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--exact", is_flag=True, help="A full softmax over the union instead of the nearest-neighbour index.")
@click.option("--json", "as_json", is_flag=True)
def generate_cmd(model, prompt, hypernet, vocab_corpus, vocab_size, max_new_tokens, exact, as_json):
    """Greedy generation over MODEL's vocabulary plus a dynamic vocabulary of whole words, their
    input and output rows predicted by the hypernetwork, the next token found through a faiss
    HNSW index."""
    from ..dynamic import OutputIndex, generate, union_table, word_vocabulary
    from ..train.run import read_texts

    texts = read_texts(vocab_corpus)
    m, tok, rows = _setup(model, hypernet)
    vocab = word_vocabulary(texts, tok, vocab_size, max_pieces=rows.max_pieces)
    tables = union_table(rows, vocab)
    index = None if exact else OutputIndex(tables[1], exact=rows.base.shape[0])
    g = generate(m, tok, rows, prompt, vocab, max_new_tokens, index=index, tables=tables)
    merged = sum(1 for i in g.ids if i >= rows.base.shape[0])
    res = {"text": g.text, "tokens": len(g.ids), "merged_tokens": merged, "vocab": rows.base.shape[0] + len(vocab),
           "tokens_per_second": g.tokens_per_second, "search": "exact" if exact else "hnsw"}
    if as_json:
        click.echo(json.dumps(res, allow_nan=False))
    else:
        click.echo(json.dumps(prompt + g.text, ensure_ascii=False))
        click.echo(f"{len(g.ids)} tokens ({merged} from the dynamic vocabulary of {len(vocab):,} words), "
                   f"{g.tokens_per_second:.1f} tokens/s ({res['search']})", err=True)


COMMANDS = [dynamic]
