"""Helpers for the hostile-input tests: run the CLI as a user would and check how it refuses.

`run_cli` starts ``python -m tokkit`` in a child process, watches its resident memory through
/proc (the child is killed past the ceiling) and its wall time, and returns what it printed.
`assert_refused` is the contract every refusal meets: exit code 2, exactly one line on stderr
that starts with ``tokkit: error:``, no traceback. `snapshot` records a directory tree (paths,
contents, modes) so a test can assert that nothing was written and no input changed.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float
    killed: str | None  # "memory" or "time" when the watcher killed the child


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def run_cli(args: list[str], *, cwd: str | os.PathLike | None = None, env: dict | None = None,
            timeout: float = 120, max_rss_mb: float = 1024, stdin: bytes | None = None,
            interrupt_after: float | None = None, file_size_limit: int | None = None, umask: int | None = None) -> Run:
    """Run ``tokkit ARGS`` in a child process; kill it past ``max_rss_mb`` resident or
    ``timeout`` seconds. ``interrupt_after``: send SIGINT (Ctrl-C) after that many seconds;
    ``file_size_limit``: no file may grow past that many bytes (a full disk: writes fail with
    EFBIG); ``umask``: the child's umask."""
    e = dict(os.environ)
    e.update({"PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    e.update(env or {})
    def limits() -> None:
        # a shell starts background jobs with SIGINT ignored, and children inherit that: the
        # child gets Ctrl-C's default whatever way the test suite itself was started
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if file_size_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_limit, file_size_limit))
        if umask is not None:
            os.umask(umask)

    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "tokkit", *map(str, args)], cwd=cwd, env=e, preexec_fn=limits,
                         stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    killed: list[str] = []
    interrupted = False

    def watch() -> None:
        nonlocal peak, interrupted
        while p.poll() is None:
            peak = max(peak, _rss_mb(p.pid))
            el = time.monotonic() - t0
            if peak > max_rss_mb:
                killed.append("memory")
                p.kill()
                return
            if el > timeout:
                killed.append("time")
                p.kill()
                return
            if interrupt_after is not None and not interrupted and el > interrupt_after:
                interrupted = True
                p.send_signal(signal.SIGINT)
            time.sleep(0.02)

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    out, err = p.communicate(stdin)
    w.join()
    return Run(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), peak,
               time.monotonic() - t0, killed[0] if killed else None)


def assert_refused(r: Run, *, says: str | None = None, path: str | os.PathLike | None = None) -> None:
    """Exit 2, exactly one stderr line ``tokkit: error: ...`` (naming ``path`` and containing
    ``says`` when given), no traceback, not killed for memory or time."""
    assert r.killed is None, (f"killed for {r.killed} (peak {r.peak_rss_mb:.0f} MB, {r.seconds:.1f} s)\n"
                              f"{r.stderr[-2000:]}")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    assert r.code == 2, f"exit {r.code}\nstdout: {r.stdout[-1000:]}\nstderr: {r.stderr[-2000:]}"
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}:\n{r.stderr[-2000:]}"
    assert lines[0].startswith("tokkit: error: "), lines[0]
    if says is not None:
        assert says.lower() in lines[0].lower(), lines[0]
    if path is not None:
        assert os.fspath(path) in lines[0] or Path(path).name in lines[0], lines[0]


def snapshot(root: str | os.PathLike) -> dict[str, tuple[str, int]]:
    """Every path under ``root`` (hidden ones too) with its content hash and mode."""
    root = Path(root)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink() or p.is_dir() or not p.is_file():  # a FIFO is never opened
                out[rel] = ("dir" if p.is_dir() else "other", p.lstat().st_mode)
            else:
                h = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = (h, p.stat().st_mode)
    return out
