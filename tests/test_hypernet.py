"""ZeTT hypernetwork: sampler, decomposition, initialisation, save/load refusal, and on the real
SmolLM2: reproducible training, exact resume, application to GPT-2's tokenizer."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tokkit
from tokkit import assets, corpora
from tokkit.errors import TokkitError
from tokkit.hypernet.core import decompose, predict
from tokkit.hypernet.model import HyperNetConfig, build, load_hypernet, save_hypernet
from tokkit.hypernet.sampler import sample_tokenizer

TEXTS = corpora.udhr("eng") + [t[:3000] for t in corpora.open_corpus("legal", split="train")][:30]


def test_sampler_vocab_and_determinism():
    a = sample_tokenizer(TEXTS, 1024, np.random.default_rng(3))
    b = sample_tokenizer(TEXTS, 1024, np.random.default_rng(3))
    c = sample_tokenizer(TEXTS, 1024, np.random.default_rng(4))
    assert len(a.tokens) == 1024 and a.tokens[:256] == [bytes([i]) for i in range(256)]
    assert a.tokens == b.tokens and a.tokens != c.tokens  # the noise makes each draw different
    assert len(set(a.tokens)) == 1024


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_sampled_tokenizer_spells_any_text(x):
    tok = _SAMPLED
    ids = tok.encode_batch([x])[0]
    assert b"".join(tok.tokens[i] for i in ids) == x.encode("utf-8")


_SAMPLED = sample_tokenizer(TEXTS, 2048, np.random.default_rng(0))


@pytest.fixture(scope="module")
def smol_tok():
    return tokkit.load(assets.smollm2_gguf())


@pytest.mark.real
def test_decompose_spells_tokens(smol_tok):
    new = [b" the", b"Licensor", b"\xe6\x97", b"a\xe6b", b"", b"hello world and more words here"]
    pieces, lengths = decompose(new, smol_tok, 8)
    for t, p, n in zip(new, pieces, lengths):
        spelled = b"".join(smol_tok.vocab.tokens[i] for i in p[:n])
        assert spelled == t or (n == 8 and t.startswith(spelled))


def test_initial_prediction_is_mean_or_first():
    rows = torch.randn(50, 16)
    pieces = np.array([[1, 2, 3, 0], [4, 0, 0, 0]])
    lengths = np.array([3, 1])
    for residual, want in (("mean", torch.stack([rows[[1, 2, 3]].mean(0), rows[4]])),
                           ("first", torch.stack([rows[1], rows[4]]))):
        net = build(HyperNetConfig(d_model=16, tied=True, base_fingerprint="x", hidden=8, layers=1, heads=2,
                                   max_pieces=4, residual=residual))
        with torch.no_grad():
            assert torch.allclose(predict(net, rows, pieces, lengths), want, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=40), st.integers(0, 2**31 - 1))
def test_predict_grouped_by_length_equals_padded(lengths, seed):
    """predict runs each piece count on its own length; the padded, masked forward gives the same."""
    torch.manual_seed(seed % 1000)
    rows = torch.randn(30, 16)
    net = build(HyperNetConfig(d_model=16, tied=True, base_fingerprint="x", hidden=8, layers=2, heads=2,
                               max_pieces=4))
    for p in net.out.parameters():
        torch.nn.init.normal_(p)  # a trained-looking network, not the zero-initialised correction
    rng = np.random.default_rng(seed)
    lengths = np.array(lengths)
    pieces = rng.integers(0, 30, size=(len(lengths), 4)) * (np.arange(4)[None] < lengths[:, None])
    mask = torch.arange(4)[None] < torch.as_tensor(lengths).clamp(min=1)[:, None]
    with torch.no_grad():
        want = net(rows[torch.as_tensor(pieces)], mask)
        got = predict(net, rows, pieces, lengths, chunk=7)
    assert torch.allclose(got, want, atol=1e-5)


def test_save_load_and_refuse_other_base(tmp_path):
    net = build(HyperNetConfig(d_model=16, tied=True, base_fingerprint="abc", base_name="m", hidden=8, layers=1,
                               heads=2, max_pieces=4))
    save_hypernet(net, tmp_path / "h")
    again = load_hypernet(tmp_path / "h", base_fingerprint="abc")
    for (k, v), (_, w) in zip(net.state_dict().items(), again.state_dict().items()):
        assert torch.equal(v, w), k
    with pytest.raises(TokkitError, match="another base model"):
        load_hypernet(tmp_path / "h", base_fingerprint="def")
    with pytest.raises(TokkitError, match="not a tokkit hypernetwork"):
        load_hypernet(tmp_path)


def _tiny(steps):
    from tokkit.hypernet.train import HyperTrainOptions

    return HyperTrainOptions(steps=steps, batch=2, seq_len=32, vocab_sizes=[512], buffer_texts=8, warmup_steps=1,
                             hidden=32, layers=1, heads=2, max_pieces=4, checkpoint_every=2, eval_every=100,
                             chunk_chars=800, threads=1)  # one thread: bit-for-bit reproducible


@pytest.mark.real
@pytest.mark.slow
def test_real_training_is_reproducible_resumes_exactly_and_applies(tmp_path, smol_tok):
    from tokkit.hypernet.train import apply_hypernet, load_base, train_hypernet

    gguf = assets.smollm2_gguf()
    train_hypernet(gguf, TEXTS, tmp_path / "a", _tiny(4))
    train_hypernet(gguf, TEXTS, tmp_path / "b", _tiny(2))
    train_hypernet(gguf, TEXTS, tmp_path / "b", _tiny(4))  # resumes from its step-2 checkpoint
    a = load_hypernet(tmp_path / "a").state_dict()
    b = load_hypernet(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(float(v.abs().sum()) > 0 for k, v in a.items() if k.startswith("out."))  # it learned something
    model, old = load_base(gguf)
    gpt2 = tokkit.load(assets.pretrained_tokenizers()["gpt2"])
    table, record = apply_hypernet(tmp_path / "a", model, old, gpt2.vocab)
    assert table.shape == (gpt2.vocab.size, 576) and torch.isfinite(table).all()
    assert record.count("copied") > 30000 and record.count("predicted") > 5000
    assert record[gpt2.vocab.eos_id] == "special"
    # the command: a stock checkpoint whose missing rows come from the hypernetwork
    import json
    import shutil

    from click.testing import CliRunner
    from transformers import AutoModelForCausalLM

    from tokkit.cli import cli

    gpt2_path = assets.pretrained_tokenizers()["gpt2"]
    r = CliRunner().invoke(cli, ["transplant", str(gguf), gpt2_path, "--method", "zett", "--hypernet",
                                 str(tmp_path / "a"), "--out", str(tmp_path / "zt")])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "zt" / "transplant_record.json").read_text())["summary"]
    assert summary["rows"]["zett"] > 13000 and summary["tied"]
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "zt").config.vocab_size == 50257
    # a hypernetwork of another base model is refused: by the command (one line, exit 2,
    # nothing written) and by the API
    shutil.copytree(tmp_path / "a", tmp_path / "other")
    cfg = json.loads((tmp_path / "other" / "config.json").read_text())
    cfg["base_fingerprint"] = "0" * 64
    (tmp_path / "other" / "config.json").write_text(json.dumps(cfg))
    r = CliRunner().invoke(cli, ["transplant", str(gguf), gpt2_path, "--method", "zett", "--hypernet",
                                 str(tmp_path / "other"), "--out", str(tmp_path / "zt2")])
    assert r.exit_code == 2 and "another base model" in r.output and not (tmp_path / "zt2").exists(), r.output
    model.get_input_embeddings().weight.data[0] += 1
    with pytest.raises(TokkitError, match="another base model"):
        apply_hypernet(tmp_path / "a", model, old, gpt2.vocab)
