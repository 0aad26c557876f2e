"""Counting on Ray (tokkit.scale.ray_count): a real two-node Ray cluster started by the test on
loopback addresses counts real shards into the local count's table; a worker killed mid-job is
retried by Ray; a corrupt shard fails the job with one line and leaves nothing at --out.

The cluster: ``ray start --head`` and a second ``ray start --address`` node, both on 127.0.0.2
(Ray replaces 127.0.0.1 by the machine's outward address, any other loopback address is kept),
with a token only this test knows, stopped by the test (``ray stop --force``).
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tokkit import corpora
from tokkit.counts import CountTable, count_files
from tokkit.errors import TokkitError
from tokkit.vocab import spec

pytestmark = [pytest.mark.real, pytest.mark.slow]

STEPS = spec.byte_level_preset("gpt2")
RAY = str(Path(sys.executable).with_name("ray"))
HOST = "127.0.0.2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _texts(name, limit):
    try:
        texts = [t for t in corpora.open_corpus(name) if t]
    except TokkitError as e:
        pytest.skip(f"cached corpus {name} not built: {e}")
    out, size = [], 0
    for t in texts:
        out.append(t)
        size += len(t)
        if size >= limit:
            break
    return out


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Real text as Parquet and JSONL shards: kernel docs, CPython's library, the KJV."""
    d = tmp_path_factory.mktemp("shards")
    texts = _texts("kernel-docs", 6 << 20) + _texts("cpython-stdlib", 3 << 20) + _texts("kjv", 2 << 20)
    n = 10
    for i in range(n):
        part = texts[i::n]
        if i % 2:
            pq.write_table(pa.table({"text": part}), d / f"part-{i:02d}.parquet", row_group_size=256)
        else:
            (d / f"part-{i:02d}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in part))
    return d


@pytest.fixture(scope="module")
def local_table(shards):
    return count_files([shards], STEPS)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node and a worker node (1 CPU each) on loopback; yields (address, env)."""
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
               RAY_AUTH_TOKEN=secrets.token_hex(32))
    port = _free_port()
    address = f"{HOST}:{port}"
    common = ["--num-cpus=1", "--object-store-memory=150000000", f"--node-ip-address={HOST}", "--disable-usage-stats"]
    try:
        subprocess.run([RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", *common], env=env,
                       check=True, capture_output=True, timeout=120)
        subprocess.run([RAY, "start", f"--address={address}", *common], env=env, check=True, capture_output=True,
                       timeout=120)
        yield address, env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _count_cli(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "tokkit", "count", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _same(a: CountTable, b: CountTable) -> bool:
    return a.pieces == b.pieces and bool((a.counts == b.counts).all())


def test_two_node_cluster_counts_exactly_the_local_table(cluster, shards, local_table, tmp_path):
    address, env = cluster
    out = tmp_path / "ray.parquet"
    p = _count_cli([shards, "--engine", "ray", "--address", address, "--out", out], env)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 0, stderr
    got = CountTable.load(out)
    assert _same(got, local_table)
    assert [s["path"] for s in got.meta["sources"]] == [s["path"] for s in local_table.meta["sources"]]
    assert got.meta["engine"] == "ray"


def _kill_one_busy_worker(stop: threading.Event, killed: list) -> None:
    """SIGKILL the first Ray worker seen running a counting task (its title is ray::Map(...))."""
    while not stop.is_set() and not killed:
        ps = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
        for line in ps.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.startswith("ray::Map(_count_shards)"):
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.01)


def test_a_worker_killed_mid_job_is_retried_and_the_table_is_exact(cluster, shards, local_table, tmp_path):
    address, env = cluster
    out = tmp_path / "ray.parquet"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_busy_worker, args=(stop, killed))
    p = _count_cli([shards, "--engine", "ray", "--address", address, "--out", out], env)
    killer.start()
    try:
        stdout, stderr = p.communicate(timeout=300)
    finally:
        stop.set()
        killer.join()
    assert killed, "no busy worker was seen to kill"
    assert p.returncode == 0, stderr
    assert _same(CountTable.load(out), local_table)


def test_a_corrupt_shard_fails_the_job_with_one_line(cluster, shards, tmp_path):
    address, env = cluster
    bad_dir = tmp_path / "shards"
    shutil.copytree(shards, bad_dir)
    whole = (bad_dir / "part-03.parquet").read_bytes()
    (bad_dir / "part-03.parquet").write_bytes(whole[: len(whole) // 2])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    p = _count_cli([bad_dir, "--engine", "ray", "--address", address, "--out", out_dir / "t.parquet"], env)
    stdout, stderr = p.communicate(timeout=300)
    assert p.returncode == 2
    lines = stderr.strip().splitlines()
    assert lines == [f"tokkit: error: {bad_dir / 'part-03.parquet'}: not a readable Parquet file "
                     "(Parquet magic bytes not found in footer. Either the file is corrupted or this is not a "
                     "parquet file.)"], stderr
    assert list(out_dir.iterdir()) == []


def test_local_cluster_started_for_the_job(shards, local_table):
    """No address: the job starts its own Ray cluster (Ray's embedded default) and stops it."""
    import ray

    from tokkit.scale.ray_count import count_on_ray

    table, stats = count_on_ray([shards], STEPS, num_cpus=2, fan_in=3, task_bytes=1 << 20)
    assert _same(table, local_table) and table.meta["sources"] == local_table.meta["sources"]
    assert stats.shards == 10 and stats.count_tasks == 10 and len(stats.tasks) == 10 and stats.merge_tasks >= 4
    assert stats.cluster_cpus == 2 and all(t["peak_rss_bytes"] > 0 for t in stats.tasks)
    assert not ray.is_initialized()


def test_tasks_group_shards_by_bytes():
    from tokkit.scale.ray_count import plan_tasks

    sizes = [5, 1, 1, 1, 1, 1, 9, 1]
    groups = plan_tasks([None] * 8, sizes, slots=2, task_bytes=6)
    assert sorted(i for g in groups for i in g) == list(range(8))  # every shard once
    assert len(groups) == 4 and all(g == sorted(g) for g in groups)
    assert max(sum(sizes[i] for i in g) for g in groups) == 9  # a big shard is one task, never split
    assert plan_tasks([None] * 3, [100, 100, 100], slots=4, task_bytes=10) == [[0], [1], [2]]  # <= one per shard
    assert len(plan_tasks([None] * 40, [1] * 40, slots=2, task_bytes=1000)) == 2  # a multiple of the slots


def test_engine_options_are_checked(tmp_path, shards):
    from click.testing import CliRunner

    from tokkit.cli import cli

    r = CliRunner().invoke(cli, ["count", str(shards), "--address", "127.0.0.2:1", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "--address and --num-cpus need --engine ray" in r.output


def test_native_table_as_arrow_buffers_equals_items():
    """What a task ships (Counter.arrow_items, built into Arrow arrays without a Python object
    per pretoken) is the counter's table, in the same order."""
    import json

    from tokkit import _native
    from tokkit.counts import _steps_json
    from tokkit.scale.ray_count import _arrow_table

    c = _native.Counter(json.dumps(_steps_json(STEPS)))
    c.add_texts(["héllo wörld, hello 2024!", "", "  spaces\tand\nlines  "] * 3)
    pieces, raw = c.items()
    t = _arrow_table(c)
    assert t.column("piece").to_pylist() == pieces
    assert t.column("count").to_numpy().tobytes() == raw
    empty = _native.Counter(json.dumps(_steps_json(STEPS)))
    assert _arrow_table(empty).num_rows == 0
