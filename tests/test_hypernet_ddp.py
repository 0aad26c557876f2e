"""Data-parallel hypernetwork training (tokkit.hypernet.distributed, `hypernet train --nproc`):
the global batch split across ranks, the gradient scaling, the launcher's arguments and
refusals, and on the real SmolLM2 with 2 CPU processes (gloo over 127.0.0.1): the weights of one
process to float rounding, resume under DDP and with another number of processes, one-line
errors, Ctrl-C."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

from tokkit import assets, corpora
from tokkit.cli import cli
from tokkit.hypernet.distributed import Ranks

TOL = 1e-5  # float rounding: the ranks sum the batch's losses in another order than one process


@given(st.integers(0, 200), st.integers(1, 9))
def test_share_partitions_the_global_batch(n, world):
    parts = [Ranks(r, world).share(n) for r in range(world)]
    assert [i for s in parts for i in range(n)[s]] == list(range(n))
    assert max(len(range(n)[s]) for s in parts) - min(len(range(n)[s]) for s in parts) <= 1


def test_rank_terms_average_to_the_global_mean(monkeypatch):
    """DDP averages the ranks' gradients; each rank's LM term is scaled so that the average is
    the gradient of the global batch's mean (with uneven slices, and ranks with no sequence)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tokkit.hypernet import train as T
    from tokkit.hypernet.core import lm_loss

    seen = []
    monkeypatch.setattr(T, "all_sum", lambda values, ranks, device: seen.append(values[0]) or list(values))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2)).eval()
    table = torch.randn(40, 16, requires_grad=True)
    ids = torch.randint(0, 40, (5, 7))
    run = T._Run(model=model, old=None, rows=table.detach(), tied=True, d=16, old_index={}, normal_old=np.zeros(0),
                 chunks=[], opts=None, ranks=Ranks())
    term, mean = T._lm_term(run, table, ids)
    with torch.no_grad():
        assert mean == pytest.approx(float(lm_loss(model, table, ids, True, 16)), rel=1e-6)
    (want,) = torch.autograd.grad(term, table)
    for world in (2, 3, 7):
        seen.clear()
        grads = [torch.autograd.grad(T._lm_term(dataclasses.replace(run, ranks=Ranks(r, world)), table, ids)[0],
                                     table)[0] for r in range(world)]
        assert torch.allclose(sum(grads) / world, want, atol=1e-6), world
        assert sum(seen) / (5 * 6) == pytest.approx(mean, rel=1e-6)  # the logged loss: the global mean


def _args(out, corpus, steps, *more, model=None):
    return ["hypernet", "train", str(model or assets.smollm2_gguf()), "--corpus", str(corpus), "--out", str(out),
            "--steps", str(steps), *more]


def test_launcher_runs_the_same_command_in_each_rank(tmp_path, monkeypatch):
    """--nproc hands torch's launcher the command's own parameters (launcher options left out),
    a static rendezvous on 127.0.0.1 and the environment of the ranks."""
    import tokkit.cli.hypernet_cmds as cmds
    import tokkit.hypernet.distributed as D

    started, trained = [], []
    monkeypatch.setattr(D, "_run_torch_launcher", lambda argv, env: started.append((argv, env)))
    monkeypatch.setattr(cmds, "_train_here", lambda *a: trained.append(a))
    args = _args(tmp_path / "o", "corpus:legal", 3, "--lr", "0.0003", "--vocab-size", "512", "--vocab-size", "600",
                 "--no-resume", "--sampler", "mixed", model="model.gguf")  # never read: nothing runs
    r = CliRunner().invoke(cli, [*args, "--nproc", "2"])
    assert r.exit_code == 0, r.output
    ((argv, env),) = started
    i = argv.index("--module")
    launcher, rank_args = dict(zip(argv[:i:2], argv[1:i:2])), argv[i + 2:]
    assert argv[i + 1] == "tokkit" and launcher["--nproc-per-node"] == "2" and launcher["--nnodes"] == "1"
    assert launcher["--master-addr"] == "127.0.0.1" and int(launcher["--master-port"]) > 0
    assert env[D.LAUNCHED] == "1" and "--nproc" not in rank_args
    for a in (rank_args, args):  # the ranks parse the same options as one process would
        r = CliRunner().invoke(cli, a)
        assert r.exit_code == 0, r.output
    assert trained[0] == trained[1] and trained[0][3].vocab_sizes == [512, 600] and trained[0][3].lr == 3e-4
    assert not trained[0][6]  # --no-resume


def test_launcher_refusals_are_one_line(tmp_path, monkeypatch):
    import tokkit.hypernet.distributed as D

    started = []
    monkeypatch.setattr(D, "_run_torch_launcher", lambda argv, env: started.append(argv))
    args = _args(tmp_path / "o", "corpus:legal", 3, model="model.gguf")
    for more, says in ((["--nnodes", "2"], "needs --master-addr"),
                       (["--nnodes", "2", "--node-rank", "2", "--master-addr", "10.0.0.1"], "--node-rank must be")):
        r = CliRunner().invoke(cli, [*args, *more])
        assert r.exit_code == 2 and says in r.output and len(r.output.strip().splitlines()) == 1, r.output
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun starts a rank
    monkeypatch.setenv("RANK", "0")
    r = CliRunner().invoke(cli, [*args, "--nproc", "2"])
    assert r.exit_code == 2 and "under torchrun leave them out" in r.output, r.output
    assert not started


def test_failed_rank_becomes_one_error(tmp_path, monkeypatch):
    """What a rank writes (report_failure) is what the launcher's side reads back (_failure)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    import tokkit.hypernet.distributed as D
    from tokkit.errors import TokkitError

    def failure(exitcode, line=None):
        path = tmp_path / f"error-{exitcode}.json"
        if line is not None:
            monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(path))
            D.report_failure(line)
        return D._failure(ChildFailedError("tokkit", {1: ProcessFailure(1, 123, exitcode, str(path))}))

    e = failure(2, "the corpus gives 3 text chunks")
    assert isinstance(e, TokkitError) and str(e) == "the corpus gives 3 text chunks"
    assert isinstance(failure(130, "interrupted"), KeyboardInterrupt)
    assert "rank 1 failed with exit code 1" in str(failure(1))  # a crash: its traceback is in its output
    assert "rank 1 was stopped by SIGKILL" in str(failure(-9))


# ---- real: 2 CPU processes over gloo -------------------------------------------------------------

TINY = ["--batch", "3", "--seq-len", "32", "--hidden", "32", "--layers", "1", "--vocab-size", "512",
        "--warmup-steps", "1", "--checkpoint-every", "2", "--sampler", "mixed"]
# 3 steps: a warm-up, a dynamic step, a Unigram step; batch 3 splits unevenly (2 + 1 sequences).
# The default lr (1e-4): Adam turns the rounding of a gradient that nearly cancels (|g| ~ its eps,
# 1e-8) into a difference of up to ~1% of lr in that weight: ~1e-6 here, ~1e-5 at lr 1e-3.


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("ddp") / "corpus.jsonl"
    texts = [t[:4000] for t in corpora.open_corpus("legal", split="train")][:60]  # > 64 chunks of 2000
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def _launch(args, timeout=150):
    """`python -m tokkit ARGS` in a subprocess (the launcher and its ranks); all of them killed
    if it runs out of time."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a rank on one thread: bit-for-bit resumable
    p = subprocess.Popen([sys.executable, "-m", "tokkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(p.pid)
        p.communicate()
        raise
    return p.returncode, out, err


def _kill_tree(pid):
    try:
        procs = [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]
    except psutil.NoSuchProcess:
        return
    for q in procs:
        try:
            q.kill()
        except psutil.NoSuchProcess:
            pass


def _gone(pids, within=30.0):
    end = time.monotonic() + within
    while time.monotonic() < end:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _max_diff(a, b):
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    assert wa.keys() == wb.keys()
    return max(float((wa[k] - wb[k]).abs().max()) for k in wa)


def _log(d):
    return [json.loads(line) for line in (d / "train_log.jsonl").read_text().splitlines()]


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_two_processes_equal_one_and_resume(tmp_path, corpus):
    one = tmp_path / "one"  # one process (this one), 3 steps
    r = CliRunner().invoke(cli, _args(one, corpus, 3, *TINY))
    assert r.exit_code == 0, r.output
    # two processes, 3 steps: one process's weights and global losses; rank 0 alone wrote
    full = tmp_path / "full"
    rc, out, err = _launch([*_args(full, corpus, 3, *TINY), "--nproc", "2"])
    assert rc == 0, err
    assert out.count("hypernetwork after 3 steps") == 1  # rank 0's summary only
    assert sorted(p.name for p in full.iterdir()) == ["checkpoint.safetensors", "config.json", "model.safetensors",
                                                      "train_log.jsonl"]
    assert [(a["phase"], a["step"]) for a in _log(one)] == [(b["phase"], b["step"]) for b in _log(full)]
    for a, b in zip(_log(one), _log(full)):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
    diffs = {"2 ranks": _max_diff(one, full)}
    # two processes, 2 steps, then resumed by two: bit for bit the uninterrupted run
    two = tmp_path / "two"
    rc, out, err = _launch([*_args(two, corpus, 2, *TINY), "--nproc", "2"])
    assert rc == 0, err
    from tokkit.checkpoint import read_state

    _, meta = read_state(two / "checkpoint.safetensors", "hypernet")
    assert meta["step"] == 2 and meta["world_size"] == 2
    shutil.copytree(two, tmp_path / "cross")
    rc, out, err = _launch([*_args(two, corpus, 3, *TINY), "--nproc", "2"])
    assert rc == 0, err
    assert _max_diff(full, two) == 0.0 and _log(full) == [dict(r, seconds=f["seconds"]) for r, f in
                                                          zip(_log(two), _log(full))]
    # resumed by one process from the 2-process checkpoint (another N: allowed, the same batches)
    r = CliRunner().invoke(cli, _args(tmp_path / "cross", corpus, 3, *TINY))
    assert r.exit_code == 0, r.output
    diffs["2 ranks, then 1"] = _max_diff(one, tmp_path / "cross")
    print("max abs diff to one process after 3 steps:", diffs)
    assert max(diffs.values()) <= TOL, diffs
    w = load_file(str(one / "model.safetensors"))
    assert float(w["out.weight"].abs().max()) > 10 * TOL  # it moved (~lr a step): the comparison means something


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_error_on_the_ranks_is_one_line(tmp_path, corpus):
    small = tmp_path / "small.jsonl"
    small.write_text("".join(corpus.read_text().splitlines(keepends=True)[:3]))
    rc, out, err = _launch([*_args(tmp_path / "o", small, 2, *TINY), "--nproc", "2"])
    assert rc == 2 and err.strip().splitlines() == [
        "tokkit: error: the corpus gives 3 text chunks of ~2000 characters; at least 64 are needed"], err
    assert not (tmp_path / "o").exists()


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ctrl_c_stops_every_rank(tmp_path, corpus):
    out = tmp_path / "o"
    args = [*_args(out, corpus, 1000, *TINY), "--checkpoint-every", "1", "--nproc", "2"]
    p = subprocess.Popen([sys.executable, "-m", "tokkit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        end = time.monotonic() + 90
        while not (out / "checkpoint.safetensors").exists():  # the ranks are training
            assert p.poll() is None and time.monotonic() < end, p.communicate()
            time.sleep(0.2)
        ranks = [q.pid for q in psutil.Process(p.pid).children(recursive=True)]
        assert len(ranks) >= 2
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        _kill_tree(p.pid)
    assert p.returncode == 130 and err.strip().splitlines() == ["tokkit: error: interrupted"], err
    assert _gone(ranks)
    from tokkit.checkpoint import read_state

    _, meta = read_state(out / "checkpoint.safetensors", "hypernet")  # the last checkpoint is whole
    assert meta["step"] >= 1
