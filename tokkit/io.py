"""Shared I/O conventions: atomic writes, hashing, the cache directory.

Every writer in tokkit writes to a temporary path in the target directory and renames it into
place, so a crash never leaves a half-written file, and refuses to write over one of its inputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
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
    """Raise if any output path is one of the inputs (or the same file through a link)."""
    ins = []
    for p in inputs:
        p = Path(p)
        if p.exists():
            ins.append(p.resolve())
    for o in outputs:
        o = Path(o)
        ro = o.resolve() if o.exists() else o.absolute()
        for i in ins:
            if ro == i or (i.is_dir() and ro.is_relative_to(i) and o.exists()):
                raise TokkitError(f"{o}: refusing to write over an input ({i})")


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Build a directory under a temporary name next to ``target``, then move it into place.

    An existing non-empty ``target`` is refused unless ``force``; with ``force`` the files written
    replace same-named files in it (other files are kept, nothing is deleted).
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise TokkitError(f"{target}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise TokkitError(f"{target}: directory exists and is not empty (use --force to write into it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        if not target.exists():
            os.replace(tmp, target)
        else:
            for item in tmp.iterdir():
                os.replace(item, target / item.name)
            tmp.rmdir()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
