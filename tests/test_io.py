"""Atomic writes and the refuse-to-overwrite rule."""

import pytest

from tokkit.errors import TokkitError
from tokkit.io import atomic_dir, atomic_path, refuse_overwrite_inputs, write_text_atomic


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_dir_refuses_non_empty_and_force_replaces_it(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "old.txt").write_text("from an earlier run")
    with pytest.raises(TokkitError, match="not empty"):
        with atomic_dir(d):
            pass
    with atomic_dir(d, force=True) as tmp:
        (tmp / "new.txt").write_text("x")
    assert sorted(p.name for p in d.iterdir()) == ["new.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuse_overwrite_inputs(tmp_path):
    src = tmp_path / "in.json"
    write_text_atomic(src, "{}")
    with pytest.raises(TokkitError, match="refusing"):
        refuse_overwrite_inputs([src], [src])
    refuse_overwrite_inputs([tmp_path / "other.json"], [src])


def test_refuse_outputs_that_overlap_inputs(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    f = d / "in.json"
    f.write_text("{}")
    for out, inp in [(d, f), (tmp_path, f), (d / "sub", d), (d / "x" / "y", d)]:
        with pytest.raises(TokkitError, match="input"):
            refuse_overwrite_inputs([out], [inp])
    refuse_overwrite_inputs([tmp_path / "e"], [f])
    refuse_overwrite_inputs([d / "sibling.json"], [f])
