"""Subword regularisation: BPE-dropout in the native encoder (Hugging Face's semantics and
distribution, seeded) and Unigram sampling through sentencepiece."""

import collections
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokkit
from tokkit.cli import cli
from tokkit.errors import TokkitError
from toyvocab import byte_level_bpe

# a toy whose samples take several merges and leave stale heap entries (what makes HF's
# distribution differ from a plain "drop each candidate" loop)
DEEP = [(b"b", b"c"), (b"a", b"b"), (b"c", b"d"), (b"ab", b"c"), (b"bc", b"d"), (b"a", b"bcd"), (b"ab", b"cd"),
        (b"abc", b"d")]
REAL = ["gpt2", "llama3", "smollm2", "mistral-v3"]
_cache: dict = {}


def real(name, real_tokenizers):
    if name not in _cache:
        _cache[name] = tokkit.load(real_tokenizers[name])
    return _cache[name]


def toy(merges=((b"a", b"b"),)):
    return tokkit.Tokenizer(byte_level_bpe(list(merges)))


def hf_with_dropout(t, p):
    """Stock Hugging Face tokenizers on tokkit's tokenizer.json of `t`, with BPE dropout p."""
    from tokenizers import Tokenizer as HFTokenizer

    from tokkit.vocab.hf import vocab_to_hf_json

    spec = vocab_to_hf_json(t.vocab)
    spec["model"]["dropout"] = p
    return HFTokenizer.from_str(json.dumps(spec))


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60) | \
    st.sampled_from(["", " ", "tokenization is unbelievably fun", "   x   ", "1234567890", "aaaaaaaaaaaaaaa"])


# -- the toy: semantics and distribution ----------------------------------------------------------
def test_dropout_zero_or_none_is_the_canonical_path():
    t = toy(DEEP)
    for text in ["abcd", "abcd abcd dcba", ""]:
        want = t.encode(text).tolist()
        assert t.encode(text, dropout=0).tolist() == want
        assert t.encode(text, dropout=0.0, seed=5).tolist() == want
        assert t.encode(text, dropout=None).tolist() == want


@pytest.mark.parametrize("p", [0.05, 0.1, 0.3, 0.7])
def test_a_merge_is_skipped_with_probability_p(p):
    """vocab {a, b, ab}, text "ab": one candidate, so P(["ab"]) = 1 - p (text k of a batch is its
    own stream: N samples in one call)."""
    t = toy()
    n = 20000
    got = t.encode_batch(["ab"] * n, dropout=p, seed=2024)
    merged = sum(len(x) == 1 for x in got) / n
    assert all(len(x) in (1, 2) for x in got)
    assert abs(merged - (1 - p)) < 4.5 * math.sqrt(p * (1 - p) / n), merged


def test_same_distribution_as_hugging_face():
    """The same distribution as HF's own BPE dropout (not the same ids: other random numbers),
    on a toy where stale heap entries take part."""
    t = toy(DEEP)
    p, n = 0.3, 20000
    ours = collections.Counter(tuple(x.tolist()) for x in t.encode_batch(["abcd"] * n, dropout=p, seed=11))
    theirs = collections.Counter(tuple(e.ids) for e in hf_with_dropout(t, p).encode_batch(["abcd"] * n))
    assert len(ours) >= 6 and set(ours) == set(theirs)
    tv = sum(abs(ours[k] - theirs[k]) for k in ours) / (2 * n)
    assert tv < 0.03, (tv, ours, theirs)


def test_seeds_batches_and_threads():
    t = toy(DEEP)
    texts = ["abcd abcd abcd abcd", "dcba abcd", "abcdabcdabcd", "abcd"] * 8
    a = t.encode_batch(texts, dropout=0.4, seed=9)
    again = t.encode_batch(texts, dropout=0.4, seed=9)
    assert all(np.array_equal(x, y) for x, y in zip(a, again))
    # text 0 of a batch is the single-text call; text k depends on (text, p, seed, k) only
    assert np.array_equal(t.encode(texts[0], dropout=0.4, seed=9), a[0])
    for k in (1, 7, 20):
        assert np.array_equal(t.encode_batch(texts[:k + 1], dropout=0.4, seed=9)[k], a[k])
    flat, lengths = t.encode_batch_flat(texts, dropout=0.4, seed=9)
    assert np.array_equal(flat, np.concatenate(a)) and lengths.tolist() == [len(x) for x in a]
    other = t.encode_batch(texts, dropout=0.4, seed=10)
    assert any(not np.array_equal(x, y) for x, y in zip(a, other))


def test_p1_merges_nothing():
    t = toy(DEEP)
    ids = t.encode("abcd dcba", dropout=1, seed=0)
    assert [t.vocab.tokens[i] for i in ids] == [bytes([b]) for b in b"abcd dcba"]


def test_offsets_of_samples():
    t = toy(DEEP)
    texts = ["abcd abcd", "dcab abcd bc"]
    e = t.encode_offsets(texts, dropout=0.5, seed=3)
    assert np.array_equal(e.ids, np.concatenate(t.encode_batch(texts, dropout=0.5, seed=3)))
    for k, text in enumerate(texts):
        ids, starts, ends = e[k]
        assert b"".join(text.encode()[a:b] for a, b in zip(starts, ends)) == text.encode()
        assert [t.vocab.tokens[i] for i in ids] == [text.encode()[a:b] for a, b in zip(starts, ends)]


def test_special_tokens_and_policies_with_dropout():
    t = toy(DEEP)
    ids = t.encode("abcd<|endoftext|>abcd", dropout=0.5, seed=1)
    eot = t.vocab.added[0].id
    assert eot in ids.tolist()
    assert eot not in t.encode("abcd<|endoftext|>", special="text", dropout=0.5, seed=1).tolist()
    with pytest.raises(TokkitError, match="special token"):
        t.encode("abcd<|endoftext|>", special="raise", dropout=0.5, seed=1)
    with pytest.raises(TokkitError, match="text 1 contains"):
        t.encode_batch(["ab", "<|endoftext|>"], special="raise", dropout=0.5, seed=1)


@pytest.mark.parametrize("kw,msg", [
    (dict(dropout=1.5), "outside"), (dict(dropout=-0.1), "outside"), (dict(dropout=float("nan")), "outside"),
    (dict(dropout=True), "not a number"), (dict(dropout="0.1"), "not a number"),
    (dict(dropout=0.1, seed=-1), "seed"), (dict(dropout=0.1, seed=2**64), "seed"),
    (dict(dropout=0.1, seed=1.5), "seed"),
    (dict(alpha=0.1), "Unigram sampling"), (dict(nbest=2), "goes with alpha"),
    (dict(dropout=0.1, alpha=0.1), "not both"),
])
def test_bad_sampling_arguments(kw, msg):
    with pytest.raises(TokkitError, match=msg):
        toy().encode("ab", **kw)


# -- the file's dropout -------------------------------------------------------------------------
def test_a_files_dropout_loads_natively_and_encodes_canonically(tmp_path):
    """A tokenizer.json with BPE dropout: native, canonical unless dropout= is passed; the value
    stays in the file written back (HF would apply it to every encode)."""
    v = byte_level_bpe(DEEP)
    v.options.dropout = 0.5
    tokkit.write_vocab(v, tmp_path)
    assert json.loads((tmp_path / "tokenizer.json").read_text())["model"]["dropout"] == 0.5
    t = tokkit.load(tmp_path)
    assert t.native_unsupported is None and t.vocab.options.dropout == 0.5
    want = toy(DEEP).encode("abcd abcd").tolist()
    assert all(t.encode("abcd abcd").tolist() == want for _ in range(20))
    hf_path = tokkit.Tokenizer(t.vocab, native=False)  # the Hugging Face adapter: canonical too
    assert all(hf_path.encode("abcd abcd").tolist() == want for _ in range(20))
    assert len({tuple(t.encode("abcd abcd", dropout=0.5, seed=s).tolist()) for s in range(20)}) > 1
    t.save(tmp_path / "again")
    assert json.loads((tmp_path / "again" / "tokenizer.json").read_text())["model"]["dropout"] == 0.5


# -- the CLI --------------------------------------------------------------------------------------
def test_cli_encode_with_dropout(tmp_path):
    tokkit.write_vocab(byte_level_bpe(DEEP), tmp_path)

    def run(*args):
        r = CliRunner().invoke(cli, ["encode", str(tmp_path), "abcd abcd abcd", *args])
        return r.exit_code, r.output

    code, canon = run()
    assert code == 0
    outs = [run("--dropout", "0.5", "--seed", str(s), "--offsets") for s in range(8)]
    assert all(c == 0 for c, _ in outs) and len({o for _, o in outs}) > 1
    assert run("--dropout", "0.5", "--seed", "3") == run("--dropout", "0.5", "--seed", "3")
    assert run("--dropout", "0") == (0, canon)
    code, out = run("--dropout", "2")
    assert code == 2 and out.startswith("tokkit: error:") and len(out.strip().splitlines()) == 1
    code, out = run("--alpha", "0.1")
    assert code == 2 and "Unigram" in out


# -- real tokenizers ------------------------------------------------------------------------------
@pytest.mark.real
@pytest.mark.parametrize("name", REAL)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, p=st.sampled_from([0.0, 0.1, 0.5, 1.0]), seed=st.integers(0, 2**64 - 1))
def test_real_samples_spell_the_text(name, real_tokenizers, text, p, seed):
    """Every sample spells the bytes the canonical ids spell (a segmentation of the same text);
    p = 0 is the canonical ids, and a sample is the same for the same seed."""
    t = real(name, real_tokenizers)
    canon = t.encode(text)
    ids = t.encode(text, dropout=p, seed=seed)
    if p == 0:
        assert np.array_equal(ids, canon)
    assert t.decode_bytes(ids) == t.decode_bytes(canon)
    assert np.array_equal(t.encode(text, dropout=p, seed=seed), ids)
    e = t.encode_offsets([text], dropout=p, seed=seed)
    assert np.array_equal(e.ids, ids)


@pytest.mark.real
@pytest.mark.parametrize("name", REAL)
def test_real_p1_is_bytes_or_characters(name, real_tokenizers):
    t = real(name, real_tokenizers)
    text = "Subword regularisation, naïvely: 東京 2024!"
    ids = t.encode(text, dropout=1.0, seed=0)
    toks = [t.vocab.tokens[i] for i in ids]
    if t.vocab.surface.value == "byte_level":
        assert all(len(x) == 1 for x in toks)
    else:  # SentencePiece-style: characters, bytes where a character is not a token
        assert all(len(x.decode("utf-8", "replace")) == 1 for x in toks)
    assert t.decode_bytes(ids) == t.decode_bytes(t.encode(text))


@pytest.mark.real
def test_real_dropout_matches_hugging_face_on_gpt2(real_tokenizers):
    """GPT-2 at p = 0.1 on an English paragraph: the same mean number of tokens as HF's own BPE
    dropout (a distribution check on a real vocabulary)."""
    from tokkit import corpora

    t = real("gpt2", real_tokenizers)
    text = corpora.udhr_parallel(["eng"])["eng"][0]
    n = 400
    ours = np.array([len(x) for x in t.encode_batch([text] * n, dropout=0.1, seed=1)])
    theirs = np.array([len(e.ids) for e in hf_with_dropout(t, 0.1).encode_batch([text] * n)])
    assert ours.mean() > len(t.encode(text)) + 1  # dropout splits tokens
    sd = math.sqrt((ours.var() + theirs.var()) / n)
    assert abs(ours.mean() - theirs.mean()) < 5 * sd, (ours.mean(), theirs.mean(), sd)


# -- Unigram sampling -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def unigram():
    from tokkit import corpora
    from tokkit.train.unigram import train_unigram

    docs = list(corpora.open_corpus("legal", split="all"))[:100]
    return tokkit.Tokenizer(train_unigram(docs, 800))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=50) |
       st.sampled_from(["The parties agree to the following terms.", "  two  spaces "]),
       alpha=st.sampled_from([0.0, 0.1, 1.0]), nbest=st.sampled_from([-1, 2, 5]), seed=st.integers(0, 2**64 - 1))
def test_unigram_samples_decode_to_the_text(unigram, text, alpha, nbest, seed):
    t = unigram
    ids = t.encode(text, alpha=alpha, nbest=nbest, seed=seed)
    assert t.decode(ids) == t.decode(t.encode(text))
    assert np.array_equal(t.encode(text, alpha=alpha, nbest=nbest, seed=seed), ids)


def test_unigram_samples_vary_with_the_seed_and_repeat_with_it(unigram):
    t = unigram
    text = "The parties agree to the following terms and conditions of this agreement."
    samples = {tuple(t.encode(text, alpha=0.1, seed=s).tolist()) for s in range(20)}
    assert len(samples) > 5
    batch = t.encode_batch([text] * 3, alpha=0.1, seed=4)
    assert np.array_equal(batch[0], t.encode(text, alpha=0.1, seed=4))
    assert np.array_equal(t.encode_batch([text] * 3, alpha=0.1, seed=4)[2], batch[2])
    assert t.encode(text, alpha=0.1, seed=4, add_special_tokens=True).tolist() == \
        t._prefix + batch[0].tolist() + t._suffix
    with pytest.raises(TokkitError, match="BPE-dropout"):
        t.encode(text, dropout=0.1)
    with pytest.raises(TokkitError, match="without offsets"):
        t.encode_offsets([text], alpha=0.1)
    with pytest.raises(TokkitError, match="nbest"):
        t.encode(text, alpha=0.1, nbest=1)
    with pytest.raises(TokkitError, match="special token"):
        t.encode("a <s> b", special="raise", alpha=0.1, seed=1)
    bos = next(a.id for a in t.vocab.added if a.content == "<s>")
    assert bos in t.encode("a <s> b", alpha=0.1, seed=1).tolist()
