"""Counting throughput: local native vs Ray (1 and 2 local workers) on >= 1 GB of real text.

    .venv/bin/python eval/scale_count.py [--gb 1.0] [--shard-mb 25] [--configs local1,local2,ray1,ray2]

The text: every cached corpus (kernel docs, CPython's library, Go sources, KJV, GNOME help in
42 languages; ``python corpora/build_cached.py``) plus the bundled legal corpus, written as
Parquet shards of ``--shard-mb`` MB of text. There is less real text than 1 GB, so each shard
is the whole document list in its own seeded order (a different permutation per shard: the
same documents several times over, in distinct orders); the shards are kept under the tokkit
cache and reused.

Each configuration runs in a fresh process (so ``RAYON_NUM_THREADS`` takes effect) and counts
every shard with the GPT-2 pretokenizer:

- ``local1``/``local2``: ``tokkit.counts.count_files`` (native counter, 1 or 2 threads);
- ``ray1``/``ray2``: ``tokkit.scale.ray_count.count_on_ray`` on a running Ray cluster of this
  machine with 1 or 2 CPUs (``ray start --head``, started before the timing and stopped after:
  the job as it runs on an existing cluster; tasks of 256 MB of shards, 1 CPU each);
- ``emb1``/``emb2``: the same with no address, so the command starts its own local cluster and
  stops it (``tokkit count --engine ray`` on one machine): the embedded default's fixed cost.

Printed: MB/s of text, Ray's overhead against local native at equal cores, peak RSS per worker,
merge time of the partial tables, and a check that every table equals the local one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _documents() -> list[str]:
    from tokkit import corpora
    from tokkit.errors import TokkitError

    docs: list[str] = []
    for name in ("kernel-docs", "cpython-stdlib", "go-src", "kjv", "legal"):
        try:
            docs += [t for t in corpora.open_corpus(name, split="all") if t]
        except TokkitError as e:
            print(f"skipped {name}: {e}", file=sys.stderr)
    for lang in corpora._cached_languages("gnome-help") if hasattr(corpora, "_cached_languages") else []:
        try:
            docs += [t for t in corpora.open_corpus("gnome-help", lang, split="all") if t]
        except TokkitError:
            pass
    return docs


def make_shards(gb: float, shard_mb: int) -> tuple[Path, int]:
    """Parquet shards of real text (see the module docstring); returns (folder, text bytes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tokkit.io import cache_dir

    d = cache_dir() / "eval" / "scale" / f"shards-{gb:g}gb-{shard_mb}mb"
    n = max(1, round(gb * 1024 / shard_mb))
    done = d / "done.json"
    if done.exists():
        return d, json.loads(done.read_text())["text_bytes"]
    d.mkdir(parents=True, exist_ok=True)
    docs = _documents()
    total = 0
    for i in range(n):
        order = list(range(len(docs)))
        random.Random(i).shuffle(order)
        texts, size = [], 0
        for j in order:
            texts.append(docs[j])
            size += len(docs[j].encode())
            if size >= shard_mb << 20:
                break
        pq.write_table(pa.table({"text": texts}), d / f"part-{i:04d}.parquet", row_group_size=2048,
                       compression="zstd")
        total += size
        print(f"\rwriting shards: {i + 1}/{n}", end="", file=sys.stderr)
    print(file=sys.stderr)
    done.write_text(json.dumps({"shards": n, "text_bytes": total, "documents": len(docs)}))
    return d, total


def run_one(config: str, shards: Path, out: Path) -> dict:
    """In this (fresh) process: count every shard one way; write the table, return timings."""
    from tokkit.counts import count_files
    from tokkit.vocab import spec

    steps = spec.byte_level_preset("gpt2")
    t0 = time.perf_counter()
    if config.startswith("local"):
        table = count_files([shards], steps)
        rec = {"total_s": time.perf_counter() - t0}
    else:
        from tokkit.scale.ray_count import count_on_ray

        address = os.environ.get("SCALE_RAY_ADDRESS") if config.startswith("ray") else None
        table, stats = count_on_ray([shards], steps, address=address,
                                    num_cpus=None if address else int(config[-1]))
        rec = {"total_s": time.perf_counter() - t0, **{k: v for k, v in stats.as_dict().items() if k != "tasks"},
               "worker_peak_rss_mb": max(t["peak_rss_bytes"] for t in stats.tasks) / 2**20,
               "task_s_sum": sum(t["seconds"] for t in stats.tasks)}
    table.save(out)
    rec["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rec["distinct"] = len(table)
    return rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--shard-mb", type=int, default=25)
    ap.add_argument("--configs", default="local1,ray1,emb1,local2,ray2,emb2")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one configuration
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    shards, text_bytes = make_shards(a.gb, a.shard_mb)
    if a.one:
        print(json.dumps(run_one(a.one, shards, Path(a.out))))
        return
    results = {}
    for config in a.configs.split(","):
        threads = config[-1]
        env = dict(os.environ, RAYON_NUM_THREADS=threads if config.startswith("local") else "1")
        out = shards.parent / f"table-{config}.parquet"
        with _cluster(int(threads) if config.startswith("ray") else 0, env):
            p = subprocess.run([sys.executable, __file__, "--gb", str(a.gb), "--shard-mb", str(a.shard_mb), "--one",
                                config, "--out", str(out)], env=env, capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(f"{config} failed:\n{p.stderr[-3000:]}")
        results[config] = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"{config}: {results[config]}", file=sys.stderr)
    _check_equal(shards.parent, list(results))
    _print_table(results, text_bytes)


@contextlib.contextmanager
def _cluster(cpus: int, env: dict):
    """A one-node Ray cluster with ``cpus`` CPUs on a loopback address (none for 0); sets
    SCALE_RAY_ADDRESS (and a fresh auth token) in ``env``."""
    if not cpus:
        yield
        return
    ray = str(Path(sys.executable).with_name("ray"))
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               SCALE_RAY_ADDRESS="127.0.0.2:46391")
    subprocess.run([ray, "start", "--head", "--port=46391", "--node-ip-address=127.0.0.2", f"--num-cpus={cpus}",
                    "--include-dashboard=false", "--disable-usage-stats"], env=env, check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)


def _check_equal(d: Path, configs: list[str]) -> None:
    from tokkit.counts import CountTable

    tables = [CountTable.load(d / f"table-{c}.parquet") for c in configs]
    for c, t in zip(configs[1:], tables[1:]):
        same = t.pieces == tables[0].pieces and bool((t.counts == tables[0].counts).all())
        print(f"table {c} == {configs[0]}: {same}")
        if not same:
            raise SystemExit("tables differ")


def _print_table(results: dict, text_bytes: int) -> None:
    mb = text_bytes / 1e6
    print(f"\n{text_bytes / 1e9:.2f} GB of text; MB = 10^6 bytes of UTF-8 text\n")
    print("| engine | CPUs | wall s | MB/s | vs local native, same CPUs | count tasks | tail merge s "
          "| worker peak RSS MB | driver peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    names = {"local": "local native", "ray": "Ray, running cluster", "emb": "Ray, cluster started by the command"}
    for c, r in results.items():
        cpus = c[-1]
        local = results.get(f"local{cpus}")
        row = [names[c[:-1]], cpus, f"{r['total_s']:.1f}", f"{mb / r['total_s']:.1f}"]
        if c.startswith("local"):
            row += ["-", "-", "-", "-"]
        else:
            ov = f"{(r['total_s'] / local['total_s'] - 1) * 100:+.1f}%" if local else "-"
            row += [ov, r["count_tasks"], f"{r['merge_tail_s']:.2f}", f"{r['worker_peak_rss_mb']:.0f}"]
        row.append(f"{r['driver_peak_rss_mb']:.0f}")
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main()
