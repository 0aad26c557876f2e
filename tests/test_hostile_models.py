"""Hostile models and checkpoints (issue 22): nothing from a model or a checkpoint runs as code,
a model without its weights is refused before anything is written, results that are not finite
numbers are errors, and option values that would give a meaningless result are refused.

CLI refusals meet ``hostile.assert_refused`` (exit 2, one ``tokkit: error:`` line, no traceback)
and write nothing; the planted code's marker file must not exist afterwards. The models are tiny
HF Llama directories built here (hidden size 16, two layers, a byte-level toy vocabulary).
"""

from __future__ import annotations

import json
import math
import pickle
import shutil

import pytest
import torch

from hostile import assert_refused, run_cli, snapshot
from toyvocab import byte_level_bpe
from tokkit.errors import FormatError, TokkitError

TORCH_RSS_MB = 2048  # importing torch (CUDA build) alone is ~1 GB resident here
TEXT = "The theory of these things: they hold whether or not the weather is there. " * 4


def _tiny_model(out, tied=True):
    from transformers import LlamaConfig, LlamaForCausalLM

    import tokkit

    v = byte_level_bpe([(b"t", b"h"), (b"th", b"e"), (b" ", b"t"), (b"e", b"r")])
    tokkit.write_vocab(v, out)
    cfg = LlamaConfig(vocab_size=v.size, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=256,
                      tie_word_embeddings=tied, bos_token_id=v.eos_id, eos_token_id=v.eos_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return _tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def work(tmp_path, tiny):
    """tmp_path with a copy of the tiny model (``model``) and a text (``text.txt``)."""
    shutil.copytree(tiny, tmp_path / "model")
    (tmp_path / "text.txt").write_text(TEXT)
    return tmp_path


def _edit_config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))


def _refused(tmp_path, args, says, path=None, max_rss_mb=1024, env=None, stdin=None):
    before = snapshot(tmp_path)
    r = run_cli(args, cwd=tmp_path, timeout=90, max_rss_mb=max_rss_mb, env=env, stdin=stdin)
    assert_refused(r, says=says, path=path)
    assert snapshot(tmp_path) == before  # nothing written, no input changed
    return r


class _Planted:
    """A pickle whose loading creates ``marker`` (what a malicious checkpoint would do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


# -- no code from a model directory --------------------------------------------------------------
def _plant_remote_code(d, marker, model_type):
    """Code that would create ``marker``; config.json names it in ``auto_map`` (a known
    model_type) or only has a model_type transformers does not know."""
    (d / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    if model_type == "llama":
        _edit_config(d, auto_map={"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"})
    else:
        _edit_config(d, model_type=model_type, architectures=["EvilModel"])


@pytest.mark.parametrize("model_type", ["llama", "evil"], ids=["auto_map", "unknown-model-type"])
@pytest.mark.parametrize("command", ["eval-lm", "bytes-score", "transplant"])
def test_remote_code_is_refused_and_never_runs(work, model_type, command):
    marker = work.parent / f"{work.name}-remote-code-ran"
    _plant_remote_code(work / "model", marker, model_type)
    args = {"eval-lm": ["eval-lm", "model", "--text", "text.txt", "--json"],
            "bytes-score": ["bytes", "score", "model", "--text", "the", "--json"],
            "transplant": ["transplant", "model", "model", "--method", "mean", "--out", "out"]}[command]
    says = "auto_map" if model_type == "llama" else "model_type"
    r = _refused(work, args, says=says, path="config.json", max_rss_mb=TORCH_RSS_MB, stdin=b"y\ny\n")
    assert r.stdout.strip() == ""  # no "run the custom code? [y/N]" prompt in the JSON output
    assert not marker.exists()


def test_pickle_weights_are_refused_and_never_unpickled(work):
    marker = work.parent / f"{work.name}-pickle-ran"
    (work / "model" / "model.safetensors").unlink()
    (work / "model" / "pytorch_model.bin").write_bytes(pickle.dumps(_Planted(marker)))
    _refused(work, ["eval-lm", "model", "--text", "text.txt", "--json"], says="pickle checkpoints are not loaded",
             path="pytorch_model.bin", max_rss_mb=TORCH_RSS_MB)
    assert not marker.exists()


# -- no checkpoint is unpickled ------------------------------------------------------------------
def test_planted_hypernet_checkpoint_pickle_never_runs(work):
    marker = work.parent / f"{work.name}-checkpoint-ran"
    (work / "out").mkdir()
    (work / "out" / "checkpoint.pt").write_bytes(pickle.dumps(_Planted(marker)))
    _refused(work, ["hypernet", "train", "model", "--corpus", "text.txt", "--out", "out", "--steps", "1"],
             says="pickle checkpoint", path="checkpoint.pt")
    assert not marker.exists()


def _hyper_opts(steps, **kw):
    from tokkit.hypernet.train import HyperTrainOptions

    base = dict(steps=steps, batch=2, seq_len=16, vocab_sizes=[300], buffer_texts=4, warmup_steps=1, hidden=8,
                layers=1, heads=2, max_pieces=4, checkpoint_every=2, eval_every=100, chunk_chars=200, threads=1)
    return HyperTrainOptions(**{**base, **kw})


def _hyper_texts():
    import random

    words = "the theory of these things is that they tend to hold whether or not the weather is there".split()
    r = random.Random(0)
    return [" ".join(r.choice(words) for _ in range(120)) for _ in range(16)]


def test_hypernet_checkpoint_is_safetensors_and_resumes_exactly(tmp_path, tiny):
    from safetensors import safe_open

    from tokkit.hypernet.model import load_hypernet
    from tokkit.hypernet.train import train_hypernet

    texts = _hyper_texts()
    train_hypernet(tiny, texts, tmp_path / "a", _hyper_opts(4))
    train_hypernet(tiny, texts, tmp_path / "b", _hyper_opts(2))
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["checkpoint.safetensors", "config.json",
                                                                  "model.safetensors", "train_log.jsonl"]
    with safe_open(str(tmp_path / "b" / "checkpoint.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["tokkit.checkpoint"])
        assert "rng.torch" in f.keys() and any(k.startswith("optim.") for k in f.keys())
    assert meta["step"] == 2 and meta["format"] == 1 and meta["kind"] == "hypernet"
    train_hypernet(tiny, texts, tmp_path / "b", _hyper_opts(4))  # resumes from step 2
    a, b = load_hypernet(tmp_path / "a").state_dict(), load_hypernet(tmp_path / "b").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # another run's checkpoint, a corrupt one: one-line errors
    with pytest.raises(TokkitError, match="another run"):
        train_hypernet(tiny, texts, tmp_path / "b", _hyper_opts(6, lr=1e-3))
    ck = tmp_path / "b" / "checkpoint.safetensors"
    ck.write_bytes(ck.read_bytes()[:200])
    with pytest.raises(FormatError, match="checkpoint"):
        train_hypernet(tiny, texts, tmp_path / "b", _hyper_opts(6))


def test_hypernet_output_never_overwrites_a_model(tmp_path, tiny):
    from tokkit.hypernet.train import train_hypernet

    with pytest.raises(TokkitError, match="input"):
        train_hypernet(tiny, _hyper_texts(), tiny, _hyper_opts(2))
    shutil.copytree(tiny, tmp_path / "other")
    before = snapshot(tmp_path)
    with pytest.raises(TokkitError, match="not a tokkit hypernetwork"):
        train_hypernet(tiny, _hyper_texts(), tmp_path / "other", _hyper_opts(2))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("change", [{"hidden": 10**6, "layers": 100}, {"hidden": 6, "heads": 4}, {"layers": "x"},
                                    {"max_pieces": 0}], ids=["huge", "not-multiple-of-heads", "wrong-type", "zero"])
def test_hostile_hypernetwork_config_is_refused_before_building(tmp_path, change):
    from tokkit.hypernet.model import HyperNetConfig, build, load_hypernet, save_hypernet

    save_hypernet(build(HyperNetConfig(d_model=16, tied=True, base_fingerprint="x", hidden=8, layers=1, heads=2,
                                       max_pieces=4)), tmp_path / "h")
    cfg = json.loads((tmp_path / "h" / "config.json").read_text())
    (tmp_path / "h" / "config.json").write_text(json.dumps({**cfg, **change}))
    with pytest.raises(FormatError):
        load_hypernet(tmp_path / "h")


# -- models without weights -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def vocab_gguf():
    from tokkit import assets

    return assets.llama_vocab("llama-bpe")  # llama.cpp's vocabulary-only file: no tensors


@pytest.mark.real
@pytest.mark.parametrize("args", [
    ["eval-lm", "{gguf}", "--text", "text.txt", "--json"],
    ["bytes", "score", "{gguf}", "--text", "the"],
    ["bytes", "sample", "{gguf}"],
    ["bytes", "complete", "{gguf}", "th"],
    ["transplant", "{gguf}", "model", "--method", "mean", "--out", "out"],
    ["hypernet", "train", "{gguf}", "--corpus", "text.txt", "--out", "out"],
], ids=["eval-lm", "bytes-score", "bytes-sample", "bytes-complete", "transplant", "hypernet-train"])
def test_vocabulary_only_gguf_is_refused_before_the_cache(work, vocab_gguf, args):
    cache = work.parent / f"{work.name}-cache"
    args = [a.format(gguf=vocab_gguf) for a in args]
    r = _refused(work, args, says="vocabulary-only", path=vocab_gguf, env={"TOKKIT_CACHE": str(cache)},
                 max_rss_mb=1536)
    assert r.seconds < 30
    assert not cache.exists() or not any(cache.rglob("*"))  # no 475 MB of random weights


@pytest.mark.parametrize("case", ["no-weights", "missing-tensor", "huge-config", "truncated", "bad-field-type",
                                  "zero-heads", "not-json"])
def test_broken_model_directories_are_refused(work, case):
    from safetensors.torch import load_file, save_file

    from tokkit.lm import load_model

    d = work / "model"
    st = d / "model.safetensors"
    if case == "no-weights":
        st.unlink()
    elif case == "missing-tensor":
        sd = load_file(st)
        del sd["model.layers.1.mlp.up_proj.weight"]
        save_file(sd, st, metadata={"format": "pt"})
    elif case == "huge-config":  # 10^9 rows from a 40 kB file: refused before any allocation
        _edit_config(d, vocab_size=10**9)
    elif case == "truncated":
        st.write_bytes(st.read_bytes()[:1000])
    elif case == "bad-field-type":
        _edit_config(d, hidden_size="abc")
    elif case == "zero-heads":
        _edit_config(d, num_attention_heads=0)
    else:
        (d / "config.json").write_text("{not json")
    with pytest.raises(TokkitError) as e:
        load_model(d)
    assert "\n" not in str(e.value) and str(d) in str(e.value)


# -- results that are not finite numbers ----------------------------------------------------------
@pytest.fixture
def nan_model(work):
    from safetensors.torch import load_file, save_file

    st = work / "model" / "model.safetensors"
    sd = load_file(st)
    sd["model.layers.1.mlp.up_proj.weight"][0, 0] = math.nan
    save_file(sd, st, metadata={"format": "pt"})
    return work


@pytest.mark.parametrize("args", [["eval-lm", "model", "--text", "text.txt", "--json"],
                                  ["bytes", "score", "model", "--text", "the", "--json"]],
                         ids=["eval-lm", "bytes-score"])
def test_nan_weights_are_an_error_not_output(nan_model, args):
    r = _refused(nan_model, args, says="not all finite", path="model", max_rss_mb=TORCH_RSS_MB)
    assert "NaN" not in r.stdout


def test_non_finite_results_raise(tiny):
    from tokkit.bytes import ByteLM
    from tokkit.bytes.model import _finite_bits
    from tokkit.lm import bits_per_byte, load_model

    model, tok = load_model(tiny)
    rows = model.get_input_embeddings().weight.detach().clone()
    rows[tok.encode("the")[0]] = math.inf
    with pytest.raises(TokkitError, match="not finite"):
        bits_per_byte(model, tok, ["the"], rows=rows)
    lm = ByteLM(model, tok)
    with torch.no_grad():
        model.model.norm.weight.fill_(math.nan)  # finite at load, NaN when run
    with pytest.raises(TokkitError, match="NaN"):
        lm.score([b"the"])
    with pytest.raises(TokkitError, match="probability zero"):
        _finite_bits(math.inf, 3)


# -- options that would give a meaningless result -------------------------------------------------
OPTIONS = {
    "eval-lm-max-len-negative": (["eval-lm", "model", "--text", "text.txt", "--max-len", "-5"], "--max-len"),
    "eval-lm-max-len-zero": (["eval-lm", "model", "--text", "text.txt", "--max-len", "0"], "--max-len"),
    "score-beam-zero": (["bytes", "score", "model", "--text", "x", "--semantics", "all", "--beam", "0"], "--beam"),
    "score-beam-negative": (["bytes", "score", "model", "--text", "x", "--beam", "-4"], "--beam"),
    "sample-temperature-negative": (["bytes", "sample", "model", "--temperature", "-1"], "--temperature"),
    "sample-max-bytes-negative": (["bytes", "sample", "model", "--max-bytes", "-1"], "--max-bytes"),
    "sample-count-zero": (["bytes", "sample", "model", "-n", "0"], "-n"),
    "sample-seed-negative": (["bytes", "sample", "model", "--seed", "-1"], "--seed"),
    "complete-max-bytes-zero": (["bytes", "complete", "model", "th", "--max-bytes", "0"], "--max-bytes"),
    "transplant-k-zero": (["transplant", "model", "model", "--method", "omp", "--k", "0", "--out", "o"], "--k"),
    "transplant-k-negative": (["transplant", "model", "model", "--k", "-3", "--out", "o"], "--k"),
    "transplant-candidates-negative": (["transplant", "model", "model", "--omp-candidates", "-1", "--out", "o"],
                                       "--omp-candidates"),
    "transplant-decomposition-weight-negative": (["transplant", "model", "model", "--decomposition-weight", "-1",
                                                  "--out", "o"], "--decomposition-weight"),
    "transplant-pad-zero": (["transplant", "model", "model", "--pad-to-multiple", "0", "--out", "o"],
                            "--pad-to-multiple"),
    "transplant-seed-negative": (["transplant", "model", "model", "--seed", "-1", "--out", "o"], "--seed"),
    "hypernet-steps-zero": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--steps", "0"],
                            "--steps"),
    "hypernet-batch-zero": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--batch", "0"],
                            "--batch"),
    "hypernet-seq-len-one": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--seq-len", "1"],
                             "--seq-len"),
    "hypernet-lr-zero": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--lr", "0"], "--lr"),
    "hypernet-layers-zero": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--layers", "0"],
                             "--layers"),
    "hypernet-hidden-not-multiple-of-heads": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o",
                                               "--hidden", "6"], "hidden"),
    "hypernet-seed-negative": (["hypernet", "train", "model", "--corpus", "text.txt", "--out", "o", "--seed", "-2"],
                               "--seed"),
}


@pytest.mark.parametrize("case", list(OPTIONS))
def test_out_of_range_options_are_refused(work, case):
    args, says = OPTIONS[case]
    _refused(work, args, says=says)


def test_option_values_are_checked_in_the_api(tmp_path, tiny):
    from tokkit.bytes import ByteLM
    from tokkit.hypernet.train import HyperTrainOptions
    from tokkit.lm import bits_per_byte, load_model
    from tokkit.transplant import MethodOptions, transplant

    model, tok = load_model(tiny)
    for n in (0, -5):
        with pytest.raises(TokkitError, match="max_len"):
            bits_per_byte(model, tok, ["the"], max_len=n)
    for kw in ({"beam": 0}, {"beam": -4}, {"semantics": "all", "beam": 0}, {"prune": -1.0}, {"max_batch": 0}):
        with pytest.raises(TokkitError):
            ByteLM(model, tok, **kw)
    lm = ByteLM(model, tok)
    for kw in ({"temperature": -1.0}, {"temperature": math.nan}, {"temperature": math.inf}, {"max_bytes": -1},
               {"seed": -1}):
        with pytest.raises(TokkitError):
            lm.sample(b"th", **kw)
    for kw in ({"k": 0}, {"k": -3}, {"candidates": -1}, {"decomposition_weight": -2.0}, {"temperature": 0.0},
               {"global_weight": 2.0}, {"top_k": 0}, {"max_pieces": 0}, {"decomposition_weight": math.nan}):
        with pytest.raises(TokkitError):
            MethodOptions(**kw).check("omp")
    with pytest.raises(TokkitError, match="option k"):  # refused before anything is loaded or written
        transplant(tiny, tiny, tmp_path / "out", method="omp", opts=MethodOptions(k=0))
    assert not (tmp_path / "out").exists()
    for kw in ({"steps": 0}, {"batch": 0}, {"seq_len": 1}, {"lr": 0.0}, {"lr": math.nan}, {"hidden": 6},
               {"vocab_sizes": [100]}, {"vocab_sizes": []}, {"seed": -1}, {"grad_clip": -1.0}, {"residual": "x"},
               {"threads": 0}):
        with pytest.raises(TokkitError):
            HyperTrainOptions(**kw)
