"""Shared I/O conventions: atomic writes, hashing, the cache directory.

Every writer in tokkit writes to a temporary path in the target directory and renames it into
place, so a crash never leaves a half-written file, and refuses to write over one of its inputs.
Temporary names carry the writer's process id (``.NAME.tokkit-PID-XXXX.tmp``): leftovers of a
killed run are removed by the next write to the same place. Files and directories get the
process umask's permissions, as ``open`` would give them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from .errors import TokkitError


def cache_dir() -> Path:
    """The one cache directory (converted models, built corpora, unpacked assets).

    ``$TOKKIT_CACHE`` overrides the default ``~/.cache/tokkit``.
    """
    env = os.environ.get("TOKKIT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tokkit"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    # Linux reports it without changing it (os.umask would, for a moment, in every thread)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    m = os.umask(0o022)
    os.umask(m)
    return m


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}.tokkit-{os.getpid()}-"


_TMP = re.compile(r"\.(?P<name>.+)\.tokkit-(?P<pid>\d+)-[^/]*\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary files and directories that killed tokkit runs left next to
    ``target`` (their process is gone); returns what was removed."""
    target = Path(target)
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _TMP.fullmatch(p.name)
        if not m or m["name"] != target.name or _alive(int(m["pid"])):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        removed.append(p)
    return removed


@contextlib.contextmanager
def _naming(target: Path) -> Iterator[None]:
    """An OSError while making the temporary path names the target the user gave."""
    try:
        yield
    except OSError as e:
        raise TokkitError(f"{target}: cannot be written there ({e.strerror or e})") from None


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    with _naming(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes it private
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(target, text.encode("utf-8"))


def write_json_atomic(target: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    write_text_atomic(target, text + ("\n" if indent is not None else ""))


def refuse_overwrite_inputs(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike]) -> None:
    """Raise if an output overlaps an input: it is the input (also through a link), lies inside
    an input directory, or is a directory that holds an input."""
    ins = [Path(p).resolve() for p in inputs if Path(p).exists()]
    for o in outputs:
        ro = Path(o).resolve()
        for i in ins:
            if ro == i:
                raise TokkitError(f"{o}: refusing to write over an input ({i})")
            if ro.is_relative_to(i):
                raise TokkitError(f"{o}: refusing to write inside an input ({i})")
            if i.is_relative_to(ro):
                raise TokkitError(f"{o}: refusing to write there: it holds an input ({i})")


def _check_replaceable(target: Path) -> None:
    """--force replaces a whole directory: never the working directory, home or a root."""
    r = target.resolve()
    for special in (Path.cwd(), Path.home(), Path(r.anchor)):
        if r == special.resolve():
            raise TokkitError(f"{target}: refusing to replace this directory (--force replaces the whole "
                              "output directory); choose a new one")


def check_output_dir(target: str | os.PathLike, force: bool) -> None:
    """Refuse an output directory before any work: a file in its place, or a non-empty directory
    without ``force`` (with it: one that may be replaced, see :func:`atomic_dir`)."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise TokkitError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        if not force:
            raise TokkitError(f"{target}: directory exists and is not empty (use --force to replace it)")
        _check_replaceable(target)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name next to ``target``, then move it into place.

    An existing non-empty ``target`` is refused unless ``force``; with ``force`` the new directory
    replaces it as a whole (nothing from an earlier output stays), swapped in by renames.
    """
    target = Path(target)
    check_output_dir(target, force)
    with _naming(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private
        yield tmp
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``; an existing ``target`` is first renamed aside (a temporary
    name of this process, so a crash in between leaves a leftover that the next run removes)."""
    if not target.exists():
        os.replace(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
