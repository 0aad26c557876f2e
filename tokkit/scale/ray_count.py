"""Pretoken counting on Ray Data: ``tokkit count SHARDS... --engine ray``.

The job, step by step:

1. the driver expands the corpus arguments into shards (:mod:`tokkit.readers`; paths made
   absolute: on a real cluster every node must see them, e.g. on a shared file system);
2. the shards are grouped into tasks of about :data:`TASK_BYTES` of text (:func:`plan_tasks`;
   a shard is never split); a Ray Data dataset with one row per task is mapped by
   :func:`_count_shards`: a task reads its shards with the same reader as local counting, counts
   them with the native counter and returns the partial table as Arrow IPC bytes, so a task
   holds its own shards' distinct pretokens, never the corpus;
3. as partial tables arrive they are merged by :func:`_merge_tables` tasks, ``fan_in`` at a
   time (a tree reduce that overlaps the counting), with :func:`tokkit.counts.merge`: the result
   equals the local count exactly (64-bit counts, overflow refused), and the driver only ever
   receives the final table.

Ray does the scheduling: it places tasks on the cluster's CPUs and re-runs a task whose worker
process or node died (its default retries for system failures). An error in a shard (corrupt
file, invalid UTF-8, ...) is raised in the task as :class:`ShardError` (a plain exception that
pickles) and re-raised on the driver as one ``TokkitError`` line naming the shard; Ray Data
stops the job at the first such error.

``address=None`` starts a local Ray cluster for the job (Ray's embedded default) and shuts it
down after; ``address="HOST:PORT"`` (or ``"auto"``) joins a running cluster; when the calling
program has already called ``ray.init()`` that session is used as it is.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..counts import (BATCH_BYTES, U64_MAX, CountTable, _count_batches, _exact_sum, _steps_json, merge,
                      shard_source)
from ..errors import TokkitError
from ..readers import Shard, expand_all
from ..textio import MAX_RECORD_BYTES, check_max_record_bytes

#: partial tables merged per reduce task
FAN_IN = 8
#: text per counting task (shards are grouped up to about this much; a larger shard is one task).
#: Measured (docs/benchmarks.md, "Counting on Ray"): per-task costs are ~80 ms, a 256 MB task
#: counts for ~6 s on one core and holds ~0.5 GB
TASK_BYTES = 256 << 20
#: object store of a local cluster started for one job (bytes); partial tables are small
LOCAL_OBJECT_STORE_BYTES = 512 << 20


class ShardError(Exception):
    """A shard's problem, raised in a Ray task; one message, so it pickles across processes."""


@dataclass(frozen=True)
class CountJob:
    """What every counting task needs (picklable: Ray ships it to the workers)."""

    pretokenizer: list[dict]
    text_field: str = "text"
    errors: str = "strict"
    max_record_bytes: int = MAX_RECORD_BYTES
    threads: int = 1  # native counter threads per task (= CPUs reserved per task)
    transform: Callable[[], Callable[[str], Sequence[str]]] | None = None  # factory, called in the task


@dataclass
class RayStats:
    """How the job went: seconds per phase, tasks, partial tables."""

    shards: int = 0
    count_tasks: int = 0
    count_s: float = 0.0  # until the last partial table was ready
    merge_tail_s: float = 0.0  # from the last partial table to the final table
    total_s: float = 0.0
    start_s: float = 0.0  # starting or joining the cluster
    cluster_cpus: float = 0.0
    merge_tasks: int = 0
    tasks: list[dict] = field(default_factory=list)  # per shard: seconds, distinct pretokens, worker peak RSS

    def as_dict(self) -> dict:
        return dict(self.__dict__)


# --- in the workers -------------------------------------------------------------------------

def _count_shards(row: dict, job: CountJob) -> dict:
    """Ray Data map function: a task's shards -> their partial count table (Arrow IPC bytes)."""
    os.environ.setdefault("RAYON_NUM_THREADS", str(job.threads))  # before the native pool starts
    import pyarrow as pa

    from .. import _native

    pa.set_cpu_count(job.threads)  # Arrow's pool too (the merges run in these workers)
    shards = [Shard(Path(p), f) for p, f in zip(row["paths"], row["formats"])]
    t0 = time.perf_counter()
    try:
        counter = _native.Counter(json.dumps(job.pretokenizer))
        transform = job.transform() if job.transform is not None else None
        sources = []
        for shard in shards:
            texts = shard.texts(text_field=job.text_field, errors=job.errors, max_record_bytes=job.max_record_bytes)
            _count_batches(counter, texts, BATCH_BYTES, None, transform)
            sources.append(shard_source(shard))
        table = _arrow_table(counter)
    except TokkitError as e:
        raise ShardError(str(e)) from None
    meta = {"sources": sources, "tasks": [{"shards": len(shards), "seconds": round(time.perf_counter() - t0, 3),
                                           "pretokens": table.num_rows, "peak_rss_bytes": _peak_rss()}]}
    return {"table": _write_ipc(table.replace_schema_metadata(
        {b"tokkit.pretokenizer": json.dumps(job.pretokenizer).encode(), b"tokkit.meta": json.dumps(meta).encode()}))}


def _arrow_table(counter):
    """The counter's table as Arrow columns built from the native buffers (no Python object per
    pretoken: a task's table goes from Rust to the object store as bytes)."""
    import pyarrow as pa

    data, offsets, counts = counter.arrow_items()
    n = len(counts) // 8
    pieces = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    if len(data) < (1 << 31) - 1:
        pieces = pieces.cast(pa.binary())  # what the merges aggregate fastest (see _merge_tables)
    return pa.table({"piece": pieces, "count": pa.Array.from_buffers(pa.uint64(), n, [None, pa.py_buffer(counts)])})


def _peak_rss() -> int:
    """This worker process's peak resident memory so far (bytes; Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _merge_tables(*blocks) -> bytes:
    """Reduce task: partial tables (Ray Data blocks or earlier merges' bytes) -> one table.

    Summed with Arrow's hash aggregation and sorted by piece bytes (the order of
    :meth:`CountTable.save`): no Python object per pretoken, about 4x faster than
    :func:`tokkit.counts.merge` on lists. Exact: when the counts' grand total fits in 64 bits no
    sum can wrap; otherwise the exact, overflow-checking :func:`tokkit.counts.merge` runs."""
    import pyarrow as pa

    pa.set_cpu_count(1)  # a merge task reserves one CPU
    tables = []
    for b in blocks:
        if isinstance(b, (bytes, bytearray)):
            tables.append(_read_ipc(b))
        else:  # a Ray Data block: a pyarrow table with a "table" column
            tables += [_read_ipc(x) for x in b.column("table").to_pylist()]
    metas = [json.loads((t.schema.metadata or {}).get(b"tokkit.meta", b"{}")) for t in tables]
    pretoks = {(t.schema.metadata or {}).get(b"tokkit.pretokenizer") for t in tables}
    if len(pretoks) != 1:
        raise ShardError("partial tables made with different pretokenizers cannot be merged")
    meta = {key: [x for m in metas for x in m.get(key, [])] for key in ("sources", "tasks")}
    if sum(_exact_sum(t.column("count").to_numpy()) for t in tables) > U64_MAX:
        merged = merge([_count_table(t) for t in tables])
        merged.meta = meta
        return table_to_ipc(merged)
    # binary (32-bit offsets) while the pieces fit: Arrow's hash aggregation is 2.3x slower on
    # large_binary; past 2 GiB of piece bytes only large_binary can hold them
    large = sum(t.column("piece").nbytes for t in tables) >= (1 << 31) - (1 << 20)
    both = pa.concat_tables([t.replace_schema_metadata(None).cast(_schema(large)) for t in tables])
    summed = both.group_by("piece").aggregate([("count", "sum")]).rename_columns(["piece", "count"])
    summed = summed.sort_by("piece").replace_schema_metadata(
        {b"tokkit.pretokenizer": pretoks.pop(), b"tokkit.meta": json.dumps(meta).encode()})
    return _write_ipc(summed)


def _schema(large: bool):
    import pyarrow as pa

    return pa.schema([("piece", pa.large_binary() if large else pa.binary()), ("count", pa.uint64())])


def table_to_ipc(table: CountTable) -> bytes:
    """A count table as Arrow IPC stream bytes (columns and metadata as :meth:`CountTable.save`)."""
    import pyarrow as pa

    t = pa.table({"piece": pa.array(table.pieces, type=pa.large_binary() if sum(map(len, table.pieces)) >= 1 << 31
                                    else pa.binary()),
                  "count": pa.array(table.counts, type=pa.uint64())})
    return _write_ipc(t.replace_schema_metadata({b"tokkit.pretokenizer": json.dumps(table.pretokenizer).encode(),
                                                  b"tokkit.meta": json.dumps(table.meta).encode()}))


def table_from_ipc(data: bytes) -> CountTable:
    return _count_table(_read_ipc(data))


def _write_ipc(t) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    return sink.getvalue().to_pybytes()


def _read_ipc(data: bytes):
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _count_table(t) -> CountTable:
    md = t.schema.metadata or {}
    return CountTable(pieces=t.column("piece").to_pylist(),
                      counts=t.column("count").to_numpy().astype(np.uint64),
                      pretokenizer=json.loads(md[b"tokkit.pretokenizer"]),
                      meta=json.loads(md.get(b"tokkit.meta", b"{}")))


# --- on the driver --------------------------------------------------------------------------

@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[float]:
    """A Ray session for one job; yields the seconds it took to start or join the cluster."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no machine here reaches the internet
    import ray

    if ray.is_initialized():  # the caller's own session: used, not shut down
        yield 0.0
        return
    if address and num_cpus:
        raise TokkitError("--num-cpus applies to a local cluster; a cluster at --address has its own CPUs")
    t0 = time.perf_counter()
    quiet = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            # "local": a new cluster for this job even when another runs on this machine
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     **quiet)
    except (ConnectionError, ValueError, RuntimeError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        raise TokkitError(f"cannot start or join {where}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") \
            from None
    started = time.perf_counter() - t0
    try:
        yield started
    finally:
        ray.shutdown()


def _quiet_ray_data() -> None:
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # a ShardError reaches the driver as itself
    # Ray Data logs a failed task's traceback at ERROR; the job's error is reported as one line
    for name in ("ray.data", "ray"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _shard_error(e: BaseException) -> str | None:
    """The message of a ShardError somewhere in a Ray exception's chain of causes."""
    seen = set()
    stack = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if type(x) is ShardError:  # not Ray's RayTaskError(ShardError), whose text is a traceback
            return str(x).splitlines()[0]  # Ray Data appends retry advice on further lines
        stack += [x.__cause__, x.__context__, getattr(x, "cause", None)]
    return None


def count_on_ray(inputs: Sequence[str | os.PathLike] | Sequence[Shard], pretokenizer, *,
                 address: str | None = None, num_cpus: int | None = None, cpus_per_task: int = 1,
                 text_field: str = "text", errors: str = "strict", max_record_bytes: int = MAX_RECORD_BYTES,
                 transform: Callable[[], Callable[[str], Sequence[str]]] | None = None, fan_in: int = FAN_IN,
                 task_bytes: int = TASK_BYTES,
                 progress: Callable[[int, int], None] | None = None) -> tuple[CountTable, RayStats]:
    """Count the pretokens of corpus inputs on Ray; the table equals :func:`tokkit.counts.count_files`'s.

    Shards are grouped into tasks of about ``task_bytes`` of text (:func:`plan_tasks`); a shard
    is never split. ``progress(done, total)`` is called as counting tasks finish. ``transform`` is a picklable factory
    called once per task that returns the per-text transform (a trainer's normalizer).
    """
    check_max_record_bytes(max_record_bytes)
    if fan_in < 2 or cpus_per_task < 1:
        raise TokkitError("fan_in must be at least 2 and cpus_per_task at least 1")
    shards = list(inputs) if inputs and isinstance(inputs[0], Shard) else expand_all(inputs)
    if not shards:
        raise TokkitError("no corpus given")
    job = CountJob(_steps_json(pretokenizer), text_field, errors, max_record_bytes, cpus_per_task, transform)
    stats = RayStats(shards=len(shards))
    t_all = time.perf_counter()
    with ray_session(address, num_cpus) as started:
        stats.start_s = round(started, 3)
        table = _run(shards, job, fan_in, stats, progress, task_bytes)
    stats.total_s = round(time.perf_counter() - t_all, 3)
    stats.tasks = table.meta.get("tasks", [])
    table.meta = {"sources": _in_shard_order(table.meta.get("sources", []), shards), "text_field": text_field, "errors": errors,
                  "engine": "ray", "tool": _tool()}
    return table, stats


def _in_shard_order(sources: list[dict], shards: list[Shard]) -> list[dict]:
    """The sources as the driver named them, in the order of the shards (tasks finish in any order)."""
    order = {str(sh.path.resolve()): (i, str(sh.path)) for i, sh in enumerate(shards)}
    out = []
    for src in sources:
        i, name = order.get(src["path"], (len(order), src["path"]))
        out.append((i, {**src, "path": name}))
    return [src for _, src in sorted(out, key=lambda x: x[0])]


def plan_tasks(shards: list[Shard], sizes: list[int], slots: int, task_bytes: int) -> list[list[int]]:
    """Shards (indices) grouped into counting tasks of about ``task_bytes`` of text each, so a
    task's memory stays bounded while per-task costs (scheduling, a partial table to merge) are
    paid per ``task_bytes``, not per shard. The number of tasks is a multiple of ``slots`` (the
    cluster's concurrent tasks) so the last round keeps every CPU busy, at most one per shard;
    groups are filled largest shard first into the lightest group (LPT), each in shard order."""
    n = len(shards)
    if n == 0:
        return []
    total = sum(sizes)
    want = max(1, -(-total // max(1, task_bytes)))
    k = min(n, -(-want // slots) * slots)
    loads = [0] * k
    groups: list[list[int]] = [[] for _ in range(k)]
    for i in sorted(range(n), key=lambda i: -sizes[i]):
        j = min(range(k), key=lambda j: loads[j])
        groups[j].append(i)
        loads[j] += sizes[i]
    return [sorted(g) for g in groups if g]


def _run(shards: list[Shard], job: CountJob, fan_in: int, stats: RayStats,
         progress: Callable[[int, int], None] | None, task_bytes: int) -> CountTable:
    import ray
    import ray.data

    _quiet_ray_data()
    stats.cluster_cpus = float(ray.cluster_resources().get("CPU", 0))
    merge_task = ray.remote(num_cpus=1)(_merge_tables)
    groups = plan_tasks(shards, [sh.text_bytes_estimate(job.text_field) for sh in shards],
                        max(1, int(stats.cluster_cpus) // job.threads), task_bytes)
    stats.count_tasks = len(groups)
    rows = [{"paths": [str(shards[i].path.resolve()) for i in g], "formats": [shards[i].format for i in g]}
            for g in groups]
    ds = ray.data.from_items(rows, override_num_blocks=len(rows)).map(
        _count_shards, fn_kwargs={"job": job}, num_cpus=job.threads)
    t0 = time.perf_counter()
    levels: list[list] = [[]]
    done = 0
    if progress:
        progress(0, len(groups))
    try:
        for bundle in ds.iter_internal_ref_bundles():
            for entry in bundle.blocks:
                levels[0].append(entry[0] if isinstance(entry, tuple) else entry.ref)
            done += bundle.num_rows() or 0
            if progress:
                progress(done, len(groups))
            _reduce_full_levels(levels, merge_task, fan_in, stats)
        stats.count_s = round(time.perf_counter() - t0, 3)
        t1 = time.perf_counter()
        root = _reduce_all(levels, merge_task, fan_in, stats)
        table = table_from_ipc(ray.get(root))
        stats.merge_tail_s = round(time.perf_counter() - t1, 3)
    except Exception as e:
        msg = _shard_error(e)
        if msg is None:
            raise
        raise TokkitError(msg) from None
    return table


def _reduce_full_levels(levels: list[list], merge_task, fan_in: int, stats: RayStats) -> None:
    """Submit a merge for every full group of ``fan_in`` refs, level by level (tree reduce)."""
    k = 0
    while k < len(levels):
        while len(levels[k]) >= fan_in:
            group, levels[k] = levels[k][:fan_in], levels[k][fan_in:]
            if k + 1 == len(levels):
                levels.append([])
            levels[k + 1].append(merge_task.remote(*group))
            stats.merge_tasks += 1
        k += 1


def _reduce_all(levels: list[list], merge_task, fan_in: int, stats: RayStats):
    """Merge what is left at every level into one ref (at least one merge: it also turns a
    single Ray Data block into table bytes)."""
    pending = [r for level in levels for r in level]
    while True:
        groups = [pending[i:i + fan_in] for i in range(0, len(pending), fan_in)]
        pending = [merge_task.remote(*g) for g in groups]
        stats.merge_tasks += len(groups)
        if len(pending) == 1:
            return pending[0]


def _tool() -> str:
    from .. import __version__

    return f"tokkit {__version__}"
