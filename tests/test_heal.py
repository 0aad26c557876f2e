"""Healing (tokkit heal): chunk alignment and losses, exact resume, new-rows leaves every other
weight bit-identical, refusals (wrong teacher, corrupt corpus), and on the real SmolLM2 moved
to GPT-2's tokenizer: held-out bits per byte fall and the model still knows Paris."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hostile import assert_refused, run_cli, snapshot
from toyvocab import byte_level_bpe

OLD = [(b"h", b"e"), (b"l", b"l"), (b"he", b"ll"), (b" ", b"w"), (b"o", b"r"), (b" w", b"or")]
NEW = [(b"e", b"l"), (b"l", b"o"), (b"h", b"el"), (b"hel", b"lo"), (b" ", b"t"), (b"a", b"b"), (b" t", b"ab")]
TEXT = "hello world tab hello there world tabs hello hello wor tab\n" * 40


# -- units ---------------------------------------------------------------------------------------
def test_chunks_split_where_both_tokenizations_end_a_token():
    from tokkit.heal.data import chunk_ids

    # "hello world": teacher he|llo| world, student hel|lo| wor|ld
    a, b, n = chunk_ids(np.array([2, 5, 11]), np.array([3, 5, 9, 11]))
    assert n == 2 and a.tolist() == [0, 0, 1] and b.tolist() == [0, 0, 1, 1]
    a, b, n = chunk_ids(np.array([2, 4]), np.array([3]))  # no shared end: nothing to compare
    assert n == 0 and a.tolist() == [-1, -1] and b.tolist() == [-1]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, -1e-3), min_size=1, max_size=8), st.floats(0.5, 4))
def test_alm_loss_is_zero_at_the_teacher_and_positive_elsewhere(lt, temp):
    from tokkit.heal.losses import alm_loss

    t = torch.tensor([lt], dtype=torch.float64)
    m = torch.ones_like(t)
    assert abs(float(alm_loss(t, t, m, temp))) < 1e-9
    s = (t - 0.5).requires_grad_(True)
    loss = alm_loss(s, t, m, temp)
    assert float(loss.detach()) > 0
    loss.backward()
    assert bool((s.grad <= 0).all())  # the student's too-low chunk probabilities are pulled up


def test_pieces_and_order_are_deterministic():
    from tokkit.heal.data import cut_pieces, piece_order

    pieces = cut_pieces(["a " * 300, "é" * 400], 64, 100)
    assert all(len(p.encode()) <= 70 for p in pieces) and "".join(pieces[-3:]).strip("é") == ""
    o = [piece_order(len(pieces), 3, s, 5).tolist() for s in range(6)]
    assert o == [piece_order(len(pieces), 3, s, 5).tolist() for s in range(6)]
    first_epoch = sum(o, [])[: len(pieces)]
    assert sorted(first_epoch) == list(range(len(pieces)))


@pytest.mark.parametrize("bad", [dict(loss="kl"), dict(loss="alm+alm"), dict(loss="lm:-1"), dict(train="all"),
                                 dict(steps=0), dict(minutes=-1), dict(batch=0), dict(lr=float("nan")),
                                 dict(steps=None, minutes=None)])
def test_options_refused(bad):
    from tokkit.errors import TokkitError
    from tokkit.heal import HealOptions

    kw = {"steps": 2, **bad}
    with pytest.raises(TokkitError):
        HealOptions(**kw)


# -- a tiny teacher and its transplanted student -------------------------------------------------
@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    from tokkit import write_vocab
    from tokkit.transplant import transplant

    d = tmp_path_factory.mktemp("heal")
    old = byte_level_bpe(OLD)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=old.size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                      bos_token_id=None, eos_token_id=old.eos_id)
    LlamaForCausalLM(cfg).save_pretrained(d / "teacher")
    write_vocab(old, d / "teacher")
    write_vocab(byte_level_bpe(NEW), d / "newtok")
    transplant(d / "teacher", d / "newtok", d / "student", method="fvt")
    (d / "corpus.txt").write_text(TEXT)
    (d / "held.txt").write_text("hello world, tab hello\n")
    return d


def _heal(toy, out, **kw):
    from tokkit.heal import HealOptions, heal

    opts = HealOptions(**{"steps": 4, "batch": 2, "piece_bytes": 64, "threads": 1, "checkpoint_every": 2,
                          "eval_every": 2, "lr": 1e-2, "train": "new-rows", **kw})
    return heal(toy / "student", toy / "teacher", [str(toy / "corpus.txt")], out, opts,
                eval_texts={"held": [(toy / "held.txt").read_text()]})


def _weights(d):
    from safetensors.torch import load_file

    return load_file(str(d / "model.safetensors"))


@pytest.mark.parametrize("loss", ["lm", "alm", "alm:1+lm:0.5"])
def test_new_rows_move_and_nothing_else_does(toy, tmp_path, loss):
    from tokkit.heal import new_rows

    rec = _heal(toy, tmp_path / "o", loss=loss)
    made, _ = new_rows(toy / "student")
    before, after = _weights(toy / "student"), _weights(tmp_path / "o")
    assert before.keys() == after.keys()
    for k, v in before.items():
        if k in ("model.embed_tokens.weight", "lm_head.weight"):
            keep = np.setdiff1d(np.arange(v.shape[0]), made)
            assert torch.equal(after[k][keep], v[keep]), k  # bit-identical
            assert not torch.equal(after[k][made], v[made]), k
        else:
            assert torch.equal(after[k], v), k
    assert rec["steps"] == 4 and all(math.isfinite(e["loss"]) for e in rec["log"] if "loss" in e)
    assert (tmp_path / "o" / "tokenizer.json").exists() and (tmp_path / "o" / "transplant_record.json").exists()
    assert json.loads((tmp_path / "o" / "heal_record.json").read_text())["steps"] == 4
    assert not (tmp_path / "o.heal-state").exists()


def test_resume_equals_an_uninterrupted_run(toy, tmp_path):
    from tokkit.heal import HealOptions, heal

    _heal(toy, tmp_path / "full", steps=6)

    class Stop(Exception):
        pass

    def stop_at_3(step, total, rec):
        if step == 3:
            raise Stop

    opts = HealOptions(steps=6, batch=2, piece_bytes=64, threads=1, checkpoint_every=2, eval_every=2, lr=1e-2,
                       train="new-rows")
    with pytest.raises(Stop):
        heal(toy / "student", toy / "teacher", [str(toy / "corpus.txt")], tmp_path / "part", opts,
             eval_texts={"held": [(toy / "held.txt").read_text()]}, progress=stop_at_3)
    assert (tmp_path / "part.heal-state" / "checkpoint.safetensors").exists() and not (tmp_path / "part").exists()
    rec = _heal(toy, tmp_path / "part", steps=6)  # the same command again: resumes at step 2
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a)
    full = json.loads((tmp_path / "full" / "heal_record.json").read_text())
    assert [e["loss"] for e in rec["log"] if "loss" in e] == [e["loss"] for e in full["log"] if "loss" in e]


def test_lora_is_merged_into_a_stock_checkpoint(toy, tmp_path):
    from transformers import AutoModelForCausalLM

    _heal(toy, tmp_path / "o", train="lora", steps=2)
    m = AutoModelForCausalLM.from_pretrained(tmp_path / "o")
    before, after = _weights(toy / "student"), _weights(tmp_path / "o")
    assert before.keys() == after.keys()  # no adapter tensors left
    assert not torch.equal(before["model.layers.0.self_attn.q_proj.weight"],
                           after["model.layers.0.self_attn.q_proj.weight"])
    assert m.config.vocab_size == before["model.embed_tokens.weight"].shape[0]


def test_cli_refuses_a_wrong_teacher_and_a_corrupt_corpus(toy, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    from tokkit import write_vocab

    other = byte_level_bpe(NEW)  # a model of another vocabulary (the student's own, say)
    cfg = LlamaConfig(vocab_size=other.size, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "wrong")
    write_vocab(other, tmp_path / "wrong")
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    r = run_cli(["heal", toy / "student", "--teacher", tmp_path / "wrong", "--corpus", toy / "corpus.txt",
                 "--out", out, "--steps", "2"])
    assert_refused(r, says="not the model this student was transplanted from")
    assert r.peak_rss_mb < 700, r.peak_rss_mb  # refused before either model is read
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(gzip.compress(TEXT.encode())[:-12])
    r = run_cli(["heal", toy / "student", "--teacher", toy / "teacher", "--corpus", bad, "--out", out,
                 "--steps", "2"])
    assert_refused(r, path=bad)
    assert r.peak_rss_mb < 700, r.peak_rss_mb  # refused before either model is read
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "bad.txt.gz"} == before


@pytest.mark.real
@pytest.mark.slow
def test_real_heal_of_smollm2_on_gpt2s_tokenizer(smol_gpt2, tmp_path):
    """A few steps of `tokkit heal` on the real transplant: the held-out bits per byte fall, the
    copied rows stay bit-identical, stock transformers loads the result and it still knows Paris."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tokkit import assets, corpora

    student, code, msg, _, _ = smol_gpt2
    assert code == 0, msg
    held = tmp_path / "held.txt"
    held.write_text("\n\n".join(corpora.open_corpus("legal", split="heldout"))[:1500], encoding="utf-8")
    out = tmp_path / "healed"
    r = run_cli(["heal", student, "--teacher", assets.smollm2_gguf(), "--corpus", "corpus:legal", "--out", out,
                 "--steps", "4", "--batch", "4", "--piece-bytes", "256", "--train", "new-rows", "--eval-text", held,
                 "--json"], max_rss_mb=8000, timeout=900)
    assert r.code == 0, r.stderr[-3000:]
    s = json.loads(r.stdout)
    assert s["eval_after"]["held"] < s["eval_before"]["held"]
    from tokkit.heal import new_rows

    made, _ = new_rows(student)
    before, after = _weights(student), _weights(out)
    keep = np.setdiff1d(np.arange(before["model.embed_tokens.weight"].shape[0]), made)
    assert torch.equal(before["model.embed_tokens.weight"][keep], after["model.embed_tokens.weight"][keep])
    assert torch.equal(before["lm_head.weight"][keep], after["lm_head.weight"][keep])
    m = AutoModelForCausalLM.from_pretrained(out)
    tk = AutoTokenizer.from_pretrained(out)
    ids = tk("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        gen = m.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tk.eos_token_id)
    assert "Paris" in tk.decode(gen[0, ids.shape[1]:])
