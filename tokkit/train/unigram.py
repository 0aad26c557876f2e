"""Unigram training through sentencepiece, converted to the data model (and so to tokenizer.json).

sentencepiece holds its sentences in memory and samples at most ``max_sentences`` of them
(``input_sentence_size``, shuffled with a fixed seed); its trainer is the reference for Unigram,
so tokkit drives it rather than re-implementing the EM loop. Lines longer than its limit (16 KB
here) are cut at whitespace.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import TokkitError
from ..vocab import Vocabulary

MAX_SENTENCE_BYTES = 16384


def _sentences(texts: Iterable[str]) -> Iterable[str]:
    for t in texts:
        for line in t.splitlines():
            line = line.strip()
            while len(line.encode("utf-8")) > MAX_SENTENCE_BYTES:
                cut = line.rfind(" ", 0, MAX_SENTENCE_BYTES // 4) if " " in line[:MAX_SENTENCE_BYTES // 4] else -1
                cut = cut if cut > 0 else MAX_SENTENCE_BYTES // 4
                yield line[:cut]
                line = line[cut:].strip()
            if line:
                yield line


def train_unigram(texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = (),
                  character_coverage: float = 0.9995, byte_fallback: bool = True, max_sentences: int = 2_000_000,
                  normalization: str | None = "nfkc", added_tokens: Sequence[str] = (), seed: int = 0,
                  max_token_chars: int | None = None) -> Vocabulary:
    """Train a SentencePiece Unigram model and read it back as a Vocabulary.

    ``special_tokens`` become control symbols after ``<unk>``, ``<s>``, ``</s>``;
    ``added_tokens`` user-defined symbols (always one piece).
    """
    import sentencepiece as spm

    from ..vocab.sentencepiece_io import read_sentencepiece

    rule = {None: "identity", "nfc": "identity", "nfkc": "nmt_nfkc"}[normalization]
    sentences = _sentences(texts)
    with tempfile.TemporaryDirectory(prefix="tokkit-unigram-") as tmp:
        prefix = os.path.join(tmp, "m")
        specials = [s for s in special_tokens if s not in ("<unk>", "<s>", "</s>")]
        kw = dict(model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
                  character_coverage=character_coverage, byte_fallback=byte_fallback,
                  input_sentence_size=max_sentences, shuffle_input_sentence=True, seed_sentencepiece_size=1_000_000,
                  normalization_rule_name=rule, max_sentence_length=MAX_SENTENCE_BYTES + 16,
                  num_threads=os.cpu_count() or 1,
                  minloglevel=2)
        if max_token_chars:
            kw["max_sentencepiece_length"] = max_token_chars
        if specials:
            kw["control_symbols"] = specials
        if added_tokens:
            kw["user_defined_symbols"] = list(added_tokens)
        spm.set_random_generator_seed(seed)  # sampling and shuffling of sentences
        try:
            spm.SentencePieceTrainer.train(sentence_iterator=iter(sentences), **kw)
        except RuntimeError as e:
            msg = str(e).splitlines()[-1] if str(e) else type(e).__name__
            raise TokkitError(f"sentencepiece could not train: {msg}") from None
        v = read_sentencepiece(Path(prefix + ".model"))
    v.meta.pop("source", None)
    v.meta["trainer"] = "sentencepiece unigram (via tokkit)"
    return v
