"""Byte-level probabilities (tokkit.bytes): exactness against a brute-force oracle on a toy BPE
tokenizer and a tiny random Llama, invariants (hypothesis), ensembles, the CLI, and SmolLM2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toyvocab import byte_level_bpe

MERGES = [(b"a", b"b"), (b"b", b"c"), (b"ab", b"c"), (b" ", b"a"), (b"b", b"a"), (b" ", b" "), (b" a", b"b"),
          (b"c", b"a"), (b"a", b"a"), (b"  ", b" "), (b"ba", b"b"), (b" ", b"c")]
MERGES2 = [(b"b", b"a"), (b"a", b"a"), (b" ", b"b"), (b"c", b"c"), (b"ba", b"a"), (b"a", b"c"), (b" b", b"a")]
PREFIXES = [b"", b"a", b"ab", b"abc", b" a", b"a  b", b"abca", b"ba b", b"a   ", b"ab  c", b"c  "]


def _toy(merges, seed, pretokenizer=None, ascii_only=True):
    """A tiny random float64 Llama over a toy byte-level BPE (``pretokenizer``: steps to use
    instead of GPT-2's). ``ascii_only``: bytes 128-255 are unused tokens (the brute-force oracle
    cannot judge covers that end inside a UTF-8 character)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tokkit.tokenizer import Tokenizer
    from tokkit.vocab import TokenType

    v = byte_level_bpe(merges)
    if pretokenizer is not None:
        v.pretokenizer = list(pretokenizer)
    if ascii_only:
        for i in range(128, 256):
            v.types[i] = TokenType.UNUSED
    tok = Tokenizer(v)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=v.size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      initializer_range=0.3, tie_word_embeddings=False)
    return LlamaForCausalLM(cfg).double().eval(), tok


@pytest.fixture(scope="module")
def toy():
    return _toy(MERGES, 0)


@pytest.fixture(scope="module")
def toy2():
    return _toy(MERGES2, 1)


@pytest.fixture(scope="module")
def lms(toy):
    from tokkit.bytes import ByteLM
    from tokkit.bytes.oracle import Oracle

    model, tok = toy
    return {sem: (ByteLM(model, tok, semantics=sem, beam=None), Oracle(model, tok, semantics=sem))
            for sem in ("all", "canonical")}


@pytest.mark.parametrize("sem", ["all", "canonical"])
def test_next_byte_matches_oracle(lms, sem):
    lm, orc = lms[sem]
    for x in PREFIXES:
        got, want = np.exp(lm.next_byte_logprobs(x)), np.exp(orc.next_byte_logprobs(x))
        assert abs(got.sum() - 1) < 1e-9
        assert np.max(np.abs(got - want)) < 1e-6, x
        assert abs(lm.logprob(x) - orc.prefix_logmass(x)) < 1e-6, x


def test_chain_rule_all(lms):
    lm, orc = lms["all"]
    for x in [b"ab ca", b"a  bc", b"cab"]:
        assert abs(lm.chain_logprob(x) - orc.prefix_logmass(x)) < 1e-6
        assert abs(lm.chain_logprob(x) - lm.logprob(x)) < 1e-9
        # with the end of text: P(x, end) from the chain equals the cover's
        assert abs(lm.chain_logprob(x, end=True) - lm.logprob(x, end=True)) < 1e-9


def test_canonical_chain_and_token_level(lms, toy):
    import torch

    model, tok = toy
    lm, orc = lms["canonical"]
    x = b"ab ca"
    # canonical conditionals are renormalised over canonical continuations: the chain's product
    # is at least the cover mass
    assert lm.chain_logprob(x) >= lm.logprob(x) - 1e-12
    # the text then end-of-text has exactly one canonical sequence: its encoding
    ids = [int(i) for i in tok.encode(x.decode())]
    allowed = torch.as_tensor(lm._allowed)
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor([[lm.prefix_token] + ids])).logits[0]
    lq = torch.log_softmax(logits.masked_fill(~allowed, -math.inf), -1)
    want = float(sum(lq[i, t] for i, t in enumerate(ids)) + lq[len(ids), lm.end_token])
    assert abs(lm.logprob(x, end=True) - want) < 1e-9


@settings(max_examples=12, deadline=None)
@given(st.text(alphabet="abc ", max_size=6))
def test_invariants(lms, s):
    x = s.encode()
    for sem in ("all", "canonical"):
        lm, _ = lms[sem]
        d = lm.next_byte_logprobs(x)
        assert d.shape == (257,) and abs(np.exp(d).sum() - 1) < 1e-9
    lm, _ = lms["all"]
    per = lm.byte_logprobs(x, end=True)
    assert abs(per.sum() - lm.logprob(x, end=True)) < 1e-8


def test_beam_is_an_approximation(toy):
    from tokkit.bytes import ByteLM

    model, tok = toy
    exact = ByteLM(model, tok, semantics="all", beam=None)
    small = ByteLM(model, tok, semantics="all", beam=2)
    x = b"abab ab"
    assert abs(small.logprob(x) - exact.logprob(x)) < 1.0
    assert small.pruned and not exact.pruned


def test_sampling_and_completion(lms):
    lm, _ = lms["canonical"]
    a = lm.sample(b"ab", max_bytes=8, seed=3)
    b = lm.sample(b"ab", max_bytes=8, seed=3)
    assert a == b and len(a) <= 8
    assert lm.chain_logprob(b"ab" + a) > -math.inf
    g = lm.complete(b"a", max_bytes=4)
    assert len(g) <= 4


def test_ensemble(toy, toy2):
    from tokkit.bytes import ByteEnsemble, ByteLM

    m1 = ByteLM(*toy, semantics="all", beam=None)
    m2 = ByteLM(*toy2, semantics="all", beam=None)
    x = b"ba ca"
    post = ByteEnsemble([m1, m2], mode="posterior", weights=[0.3, 0.7])
    # the posterior-weighted rule is the mixture of the two byte-level models
    want = np.logaddexp(math.log(0.3) + m1.logprob(x), math.log(0.7) + m2.logprob(x))
    assert abs(post.logprob(x) - want) < 1e-9
    avg = ByteEnsemble([m1, m2], mode="average")
    d = avg.next_byte_logprobs(b"ba")
    assert abs(np.exp(d).sum() - 1) < 1e-9
    per = [np.exp(m.next_byte_logprobs(b"ba")) for m in (m1, m2)]
    assert np.allclose(np.exp(d), (per[0] + per[1]) / 2)


def test_errors(toy):
    from tokkit.bytes import ByteLM
    from tokkit.errors import TokkitError

    model, tok = toy
    with pytest.raises(TokkitError):
        ByteLM(model, tok, semantics="bogus")
    lm = ByteLM(model, tok)
    with pytest.raises(TokkitError):  # byte 0xff is no text token of the toy
        lm.next_byte_logprobs(b"a\xff")


def test_cli(toy, tmp_path):
    from click.testing import CliRunner

    from tokkit.cli import cli

    model, tok = toy
    d = tmp_path / "toy"
    model.float().save_pretrained(d)
    model.double()
    tok.save(d, format="hf")
    r = CliRunner().invoke(cli, ["bytes", "score", str(d), "--text", "ab ca", "--json"])
    assert r.exit_code == 0, r.output
    import json

    assert json.loads(r.stdout)["bytes"] == 5
    r = CliRunner().invoke(cli, ["bytes", "complete", str(d), "ab", "--max-bytes", "3"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["bytes", "sample", str(d), "--prompt", "a", "--max-bytes", "3", "--seed", "1"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["bytes", "score", str(d)])
    assert r.exit_code == 2 and "nothing to score" in r.output
    (tmp_path / "a.txt").write_text("ab ca ab", encoding="utf-8")
    (tmp_path / "b.txt").write_text("ca", encoding="utf-8")
    r = CliRunner().invoke(cli, ["bytes", "score", str(d), str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--json"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert [t["name"] for t in rec["texts"]] == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    assert [t["bytes"] for t in rec["texts"]] == [8, 2]
    whole = sum(t["bits_per_byte"] * t["bytes"] for t in rec["texts"]) / 10
    assert abs(whole - rec["bits_per_byte"]) < 1e-9


def test_score_reports_each_text_and_progress(lms):
    lm, _ = lms["canonical"]
    seen = []
    texts = [b"ab ca " * 6, b"", b"cab"]
    r = lm.score(texts, progress=seen.append, names=["x", "y", "z"])
    assert [t["name"] for t in r["texts"]] == ["x", "y", "z"] and r["bytes"] == 39
    assert seen == sorted(seen) and seen[-1] == 39 and len(seen) >= 4  # within the long text too
    for t, x in zip(r["texts"], texts):
        assert abs(t["bits_per_byte"] - (-lm.logprob(x) / math.log(2) / max(len(x), 1))) < 1e-12


# -- SmolLM2 (real) --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def smol():
    import torch

    from tokkit import assets
    from tokkit.lm import load_model

    model, tok = load_model(assets.smollm2_gguf())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared; one thread is faster under contention
    yield model, tok
    torch.set_num_threads(threads)


@pytest.mark.real
@pytest.mark.slow
def test_smollm2_token_aligned(smol):
    import torch

    from tokkit.bytes import ByteLM

    model, tok = smol
    lm = ByteLM(model, tok, semantics="canonical")
    text = "Hello world. Caf\u00e9!\n"
    x = text.encode()
    ids = [int(i) for i in tok.encode(text)]
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor([[lm.prefix_token] + ids])).logits[0].double()
    lq = torch.log_softmax(logits.masked_fill(~torch.as_tensor(lm._allowed), -math.inf), -1)
    token_level = float(sum(lq[i, t] for i, t in enumerate(ids)) + lq[len(ids), lm.end_token])
    # text then end: exactly the canonical token sequence (float32 model: 1e-3 nats)
    assert abs(lm.logprob(x, end=True) - token_level) < 1e-3
    d = np.exp(lm.next_byte_logprobs(x[:8]))  # "Hello wo": inside a token
    assert abs(d.sum() - 1) < 1e-9 and np.argmax(d) == ord("r")
    assert lm.complete(b"Hello wo", max_bytes=3).startswith(b"r")


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("name", ["mistral-v1", "cl100k"])
def test_other_vocabularies(name):
    """SentencePiece BPE with byte fallback (dummy-prefix lead byte) and a tiktoken vocabulary,
    with a tiny random model: text then end equals the token level (the text's own encoding)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    import tokkit
    from tokkit import assets
    from tokkit.bytes import ByteLM

    tok = tokkit.load(assets.pretrained_tokenizers()[name])
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab.size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      initializer_range=0.5, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg).double().eval()
    lm = ByteLM(model, tok, semantics="canonical")
    text = "Hi \u00e9t\u00e9 1"
    ids = [int(i) for i in tok.encode(text)]
    assert tok.decode_bytes(ids) == lm._prep.lead + text.encode()
    with torch.no_grad():
        logits = model(input_ids=torch.as_tensor([[lm.prefix_token] + ids])).logits[0]
    lq = torch.log_softmax(logits.masked_fill(~torch.as_tensor(lm._allowed), -math.inf), -1)
    token_level = float(sum(lq[i, t] for i, t in enumerate(ids)) + lq[len(ids), lm.end_token])
    base = lm._at(b"").cover.cover_logmass()  # log P(prefix lead): probabilities are given the lead
    assert abs(lm.logprob(text.encode(), end=True) + base - token_level) < 1e-6
    d = np.exp(lm.next_byte_logprobs("Hi \u00e9".encode()[:-1]))  # inside a UTF-8 character
    assert abs(d.sum() - 1) < 1e-9 and d[0xA9] > 0


def test_cache_compaction(toy, monkeypatch):
    """Long texts: the KV cache is compacted (dead branches dropped) without changing results."""
    from tokkit.bytes import ByteLM
    from tokkit.bytes.model import _TreeEvaluator

    model, tok = toy
    x = (b"ab ca  bc abca ba " * 20)[:200]
    lm = ByteLM(model, tok, semantics="all", beam=4)
    calls = []
    orig = _TreeEvaluator.compact

    def spy(self, alive):
        before = self.n_slots
        orig(self, alive)
        calls.append(before != self.n_slots)

    monkeypatch.setattr(_TreeEvaluator, "compact", spy)
    got = lm.chain_logprob(x)
    assert any(calls)
    monkeypatch.setattr(_TreeEvaluator, "compact", lambda self, alive: None)
    want = ByteLM(model, tok, semantics="all", beam=4).chain_logprob(x)
    assert abs(got - want) < 1e-8
