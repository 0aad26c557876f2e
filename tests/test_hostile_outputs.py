"""Outputs under hostile conditions: an output that overlaps an input, --force over an old
output, leftovers of killed runs, the umask, a full disk, Ctrl-C during training."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import pytest

from hostile import assert_refused, run_cli, snapshot
from toyvocab import byte_level_bpe


@pytest.fixture()
def toy(tmp_path):
    from tokkit import write_vocab

    d = tmp_path / "toy"
    write_vocab(byte_level_bpe([(b"h", b"e"), (b"he", b"l"), (b"l", b"o")]), d)
    return d


def test_output_that_holds_the_input_is_refused(toy, tmp_path):
    """`convert D/tokenizer.json D --force` used to replace D's own files."""
    before = snapshot(tmp_path)
    for src, out in [(toy / "tokenizer.json", toy), (toy / "tokenizer.json", tmp_path), (toy, toy / "sub")]:
        r = run_cli(["convert", src, out, "--to", "hf", "--force"])
        assert_refused(r, says="input")
    assert snapshot(tmp_path) == before


def test_force_writes_a_fresh_output(toy, tmp_path):
    """Nothing stale from an earlier output stays (an old tokenizer.tiktoken, say)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "tokenizer.tiktoken").write_text("stale\n")
    r = run_cli(["convert", toy, out, "--to", "hf"])
    assert_refused(r, says="not empty")
    assert (out / "tokenizer.tiktoken").exists()
    r = run_cli(["convert", toy, out, "--to", "hf", "--force"])
    assert r.code == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["special_tokens_map.json", "tokenizer.json",
                                                      "tokenizer_config.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_force_never_replaces_the_working_directory(toy, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("keep")
    r = run_cli(["convert", toy, ".", "--to", "hf", "--force"], cwd=work)
    assert_refused(r, says="refusing to replace")
    assert (work / "mine.txt").read_text() == "keep"


def test_leftovers_of_killed_runs_are_removed(toy, tmp_path):
    out = tmp_path / "out"
    dead = tmp_path / ".out.tokkit-999999999-abcd.tmp"  # no such process
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"x" * 1000)
    live = tmp_path / f".out.tokkit-{os.getpid()}-abcd.tmp"  # a run still going (this test)
    live.mkdir()
    other = tmp_path / ".other.tokkit-999999999-abcd.tmp"  # another output's: not ours to judge
    other.write_text("x")
    r = run_cli(["convert", toy, out, "--to", "hf"])
    assert r.code == 0, r.stderr
    assert not dead.exists() and live.exists() and other.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_follow_the_umask(toy, tmp_path, umask):
    out = tmp_path / "out"
    r = run_cli(["convert", toy, out, "--to", "hf"], umask=umask)
    assert r.code == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "tokenizer.json").stat().st_mode) == 0o666 & ~umask
    f = tmp_path / "t.tiktoken"
    assert run_cli(["convert", toy, f, "--to", "tiktoken"], umask=umask).code == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask


@pytest.mark.real
def test_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    """Writes that fail (here: a file-size limit, as a full disk would) give one line, exit 2,
    and no half-written output or temporary file."""
    from tokkit import assets

    src = assets.pretrained_tokenizers()["gpt2"]
    before = snapshot(tmp_path)
    r = run_cli(["convert", src, tmp_path / "out", "--to", "hf"], file_size_limit=200_000)
    assert_refused(r, says="too large")
    r = run_cli(["convert", src, tmp_path / "g.tiktoken", "--to", "tiktoken"], file_size_limit=50_000)
    assert_refused(r, says="too large")
    assert snapshot(tmp_path) == before


def test_output_below_a_file_is_one_line(toy, tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    assert_refused(run_cli(["convert", toy, f / "out", "--to", "hf"]), path=f)


def test_ctrl_c_stops_native_training_within_a_second():
    """SIGINT while the native merge loop runs (GIL released, no progress callback): the loop
    polls for signals and KeyboardInterrupt reaches Python promptly."""
    code = textwrap.dedent("""
        import os, random, signal, threading, time
        from tokkit import _native
        rng = random.Random(0)
        words = sorted({bytes(rng.randrange(97, 123) for _ in range(rng.randint(3, 14))) for _ in range(300_000)})
        counts = [rng.randint(1, 1000) for _ in words]
        t = {}
        def hit():
            t["sent"] = time.monotonic()
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(1.0, hit).start()
        t0 = time.monotonic()
        try:
            _native.train_bpe(words, counts, 2_000_000)  # runs for seconds: the signal lands in the loop
            print("finished", time.monotonic() - t0)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic() - t["sent"])
    """)
    # SIGINT's default in the child even when the suite runs as a background job (which ignores it)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    word, secs = r.stdout.split()
    assert word == "interrupted", r.stdout + r.stderr
    assert float(secs) < 1.0


def _random_words(path, n_bytes: int) -> None:
    """Random lowercase words: many distinct words, so the merge loop runs for seconds."""
    import numpy as np

    rng = np.random.default_rng(0)
    b = rng.integers(97, 123, n_bytes, dtype=np.uint8)
    b[rng.integers(0, n_bytes, n_bytes // 8)] = 32
    b[rng.integers(0, n_bytes, n_bytes // 80)] = 10
    path.write_bytes(b.tobytes())


def test_ctrl_c_during_train_leaves_no_output(tmp_path):
    corpus = tmp_path / "words.txt"
    _random_words(corpus, 14_000_000)
    out = tmp_path / "tok"
    before = snapshot(tmp_path)
    # the merge loop's memory at the 5 s mark depends on how far it got (it peaked at 1,027 MB once,
    # past the default 1,024 MB ceiling): this test is about Ctrl-C, so the ceiling is looser
    r = run_cli(["train", corpus, "--vocab-size", "400000", "--out", out], interrupt_after=5, timeout=60,
                max_rss_mb=2048)
    assert r.killed is None and r.code == 130, (r.code, r.stderr[-2000:])
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines[-1] == "tokkit: error: interrupted" and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert r.seconds < 5 + 1.5
    assert snapshot(tmp_path) == before


def test_unwritable_place_is_one_line(toy, tmp_path):
    """A place the file system refuses (sysfs takes no new directories, even from root; a
    read-only file system fails the same way): one line naming it, exit 2."""
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("no sysfs")
    assert_refused(run_cli(["convert", toy, "/sys/kernel/tokkit-out", "--to", "hf"]), says="/sys/kernel")
