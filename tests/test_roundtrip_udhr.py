"""The issue's must-show: real tokenizer -> data model -> tokenizer.json -> stock AutoTokenizer
gives the ORIGINAL library's ids on every bundled UDHR language and the whole legal sample."""

import tempfile
import unicodedata

import pytest

import tokkit
from tokkit import corpora
from tokkit.vocab.verify import original_encoder, roundtrip, stock_hf_encoder

pytestmark = [pytest.mark.real, pytest.mark.slow]


@pytest.fixture(scope="module")
def texts():
    out = [t for v in corpora.udhr_parallel().values() for t in v]
    assert len(out) == 30 * len(corpora.udhr_languages()) >= 15000
    return out + list(corpora.open_corpus("legal", split="all"))


@pytest.mark.parametrize("name", ["gpt2", "llama3", "qwen2", "cl100k", "mistral-v1", "mistral-v3",
                                  "minilm"])
def test_exact_on_udhr_and_legal(name, real_tokenizers, texts):
    _, ref = original_encoder(name)
    r = roundtrip(real_tokenizers[name], texts, reference=ref)
    assert r.texts == len(texts)
    assert r.mismatched == 0, r.examples


def _has_digit(t: str) -> bool:
    return any(unicodedata.category(c) == "Nd" for c in t)


def test_smollm2_differs_from_transformers_only_by_its_digit_split(real_tokenizers, texts):
    """transformers' GGUF loader ignores SmolLM2's pre-type (llama.cpp 'smollm': digits split
    first). tokkit keeps the split; without it, tokkit matches transformers on every text, and
    with it, only texts containing a digit differ."""
    path = real_tokenizers["smollm2"]
    _, ref = original_encoder("smollm2")
    want = ref(texts)
    v = tokkit.read_vocab(path)
    assert [s.kind for s in v.pretokenizer] == ["digits", "byte_level"]
    ablated = v.copy(pretokenizer=[s for s in v.pretokenizer if s.kind != "digits"])
    with tempfile.TemporaryDirectory() as d:
        tokkit.write_vocab(ablated, d)
        got = stock_hf_encoder(d)(texts)
    assert [list(x) for x in want] == got
    with tempfile.TemporaryDirectory() as d:
        tokkit.write_vocab(v, d)
        got = stock_hf_encoder(d)(texts)
    differing = [t for t, a, b in zip(texts, want, got) if list(a) != b]
    assert differing and all(_has_digit(t) for t in differing)
