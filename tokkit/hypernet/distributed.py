"""Data-parallel hypernetwork training: the process group, the global batch split across ranks,
and the launcher (torch's own, ``torch.distributed.run``, which is what ``torchrun`` runs).

Every rank draws the same step from ``numpy.random.default_rng([seed, step])`` (the same
sampled tokenizer, the same global batch) and takes a contiguous slice of the batch's sequences
(:meth:`Ranks.share`); torch's DistributedDataParallel averages the gradients. The LM loss of a
slice is scaled so that this average is the gradient of the mean over the global batch, so a run
gives the weights of one process with the same ``--batch`` and seed, to float rounding.

A process takes part when the launcher started it (``WORLD_SIZE`` > 1 in its environment, with
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``): gloo on the CPU, nccl on GPUs.
:func:`launch` starts ``python -m tokkit ARGS`` in each process and turns a failed rank into one
``TokkitError`` line (the rank writes its line where torch's launcher reads a worker's error,
``TORCHELASTIC_ERROR_FILE``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator, Sequence

from ..errors import TokkitError

#: set in the processes :func:`launch` starts: their launcher prints their error line once
LAUNCHED = "TOKKIT_DDP_LAUNCHED"
#: how long a rank waits for the others in a collective: rank 0 evaluates and writes checkpoints
#: while the others wait at the next step's all-reduce (nccl's default, 10 minutes, is short for
#: a large evaluation), and a rank whose peer died waits this long before it gives up
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this module made the process group (and destroys it)

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, outputs and progress."""
        return self.rank == 0

    def share(self, n: int) -> slice:
        """This rank's contiguous slice of ``n`` items of the global batch (sizes differ by at
        most one; a rank's slice is empty when ``n`` < world)."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)


def _env_int(name: str, default: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None:
        if default is None:
            raise TokkitError(f"{name} is not set (WORLD_SIZE is: start the processes with torchrun or --nproc)")
        return default
    try:
        return int(raw)
    except ValueError:
        raise TokkitError(f"{name}={raw!r} in the environment is not an integer") from None


def env_rank() -> int:
    """This process's global rank as the launcher set it (0 outside a launcher)."""
    return _env_int("RANK", 0) if _env_int("WORLD_SIZE", 1) > 1 else 0


def in_launched_process() -> bool:
    """Whether a launcher (torchrun, --nproc) started this process as one of several ranks."""
    return _env_int("WORLD_SIZE", 1) > 1 and "RANK" in os.environ


def _device(device: str | None, local_rank: int):
    """A rank's device: ``device`` (None: CUDA when torch sees a GPU); a GPU without an index is
    this process's own (``cuda:LOCAL_RANK``): nccl refuses two ranks on one GPU."""
    import torch

    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", local_rank)
        if local_rank >= torch.cuda.device_count():
            raise TokkitError(f"local rank {local_rank} needs cuda:{local_rank} but torch sees "
                              f"{torch.cuda.device_count()} GPUs: start at most that many processes a machine")
    return dev


def join(device: str | None):
    """(Ranks, torch.device): join the process group the launcher prepared (gloo on the CPU,
    nccl on GPUs), or use the caller's own if one is initialised; one process outside a launcher."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # the caller's group: used, never destroyed
        local = _env_int("LOCAL_RANK", 0)
        return Ranks(dist.get_rank(), dist.get_world_size(), local, owns_group=False), _device(device, local)
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        import torch

        return Ranks(), torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if not dist.is_available():
        raise TokkitError("WORLD_SIZE > 1 but this torch is built without torch.distributed")
    rank, local = _env_int("RANK"), _env_int("LOCAL_RANK", 0)
    dev = _device(device, local)
    if dev.type == "cuda":
        import torch

        torch.cuda.set_device(dev)
    try:
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", timeout=TIMEOUT)
    except (ValueError, RuntimeError) as e:  # no MASTER_ADDR, an unreachable master
        from ..lm import one_line

        raise TokkitError(f"cannot join the process group of rank {rank} of {world} ({one_line(e)})") from None
    return Ranks(rank, world, local, owns_group=True), dev


def leave(ranks: Ranks) -> None:
    """Destroy the process group :func:`join` made (also after an error)."""
    if ranks.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


@contextlib.contextmanager
def local_first(ranks: Ranks, device) -> Iterator[None]:
    """Local rank 0 of each machine runs the body first, the others after it: reading a GGUF
    model writes its dequantized copy to the cache once, not once per process at the same time."""
    if ranks.world > 1 and ranks.local_rank != 0:
        _barrier(device)
    yield
    if ranks.world > 1 and ranks.local_rank == 0:
        _barrier(device)


def _barrier(device) -> None:
    import torch.distributed as dist

    if device.type == "cuda":  # nccl: on this rank's GPU, not the one it would guess
        dist.barrier(device_ids=[device.index])
    else:
        dist.barrier()


def all_sum(values: Sequence[float], ranks: Ranks, device) -> list[float]:
    """Each value summed over the ranks (float64; for the log, not for gradients)."""
    if ranks.world == 1:
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def agree_on_start(step: int, ranks: Ranks, device) -> None:
    """Refuse to go on when the ranks resumed from different steps (a run on several machines
    whose --out is not one shared directory)."""
    if ranks.world == 1:
        return
    import torch
    import torch.distributed as dist

    t = torch.tensor([step, -step], dtype=torch.int64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    hi, lo = int(t[0]), -int(t[1])
    if hi != lo:
        raise TokkitError(f"the ranks found checkpoints of different steps ({lo} to {hi}) in --out: a run on several "
                          "machines needs --out on a file system they share")


def wrap(net, ranks: Ranks, device):
    """``net`` in DistributedDataParallel (which also copies rank 0's weights to every rank)."""
    if ranks.world == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)


# ---- the worker's side of an error ------------------------------------------------------------

def report_failure(line: str) -> None:
    """Write this rank's one-line error where torch's launcher reads a worker's failure
    (``TORCHELASTIC_ERROR_FILE``, the JSON torch's own ``@record`` writes, the line as message)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    data = {"message": {"message": line, "extraInfo": {"py_callstack": line, "timestamp": str(int(time.time())),
                                                       "tokkit": True}}}
    try:
        with open(path, "w") as f:
            json.dump(data, f)
    except OSError:  # the launcher then reports the exit code alone
        pass


# ---- the launcher ------------------------------------------------------------------------------

def launch(args: Sequence[str], nproc: int, nnodes: int = 1, node_rank: int = 0, master_addr: str | None = None,
           master_port: int | None = None) -> None:
    """Run ``python -m tokkit ARGS`` as ``nproc`` ranks on this machine (``nnodes`` machines in
    all, this one ``node_rank``) through ``torch.distributed.run`` with a static rendezvous at
    ``master_addr:master_port``; on one machine the default is 127.0.0.1 and a free port.

    A failed rank becomes a TokkitError with its one-line error (the first rank to fail), Ctrl-C a
    KeyboardInterrupt once every rank has stopped: torch's launcher sends the signal on to them
    and kills those that do not stop.
    """
    if nnodes > 1 and not master_addr:
        raise TokkitError("--nnodes > 1 needs --master-addr (the address of the machine with --node-rank 0)")
    if not 0 <= node_rank < nnodes:
        raise TokkitError(f"--node-rank must be in 0..{nnodes - 1}, got {node_rank}")
    single = nnodes == 1
    addr = master_addr or "127.0.0.1"
    port = master_port or (_free_port(addr) if single else 29500)  # torchrun's default port
    env = {LAUNCHED: "1"}
    if "OMP_NUM_THREADS" not in os.environ:  # torchrun would say 1; the cores shared out is faster
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        env["OMP_NUM_THREADS"] = str(max(1, cores // nproc))
    if single and "GLOO_SOCKET_IFNAME" not in os.environ and _loopback():
        env["GLOO_SOCKET_IFNAME"] = _loopback()  # one machine: gloo's traffic stays on loopback
    with tempfile.TemporaryDirectory(prefix="tokkit-ddp-") as logs:
        argv = ["--nnodes", str(nnodes), "--nproc-per-node", str(nproc), "--node-rank", str(node_rank),
                "--master-addr", addr, "--master-port", str(port), "--max-restarts", "0", "--log-dir", logs,
                "--module", "tokkit", *args]
        _run_torch_launcher(argv, env)


def _run_torch_launcher(argv: list[str], env: dict[str, str]) -> None:
    from torch.distributed import DistError
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.elastic.rendezvous import RendezvousError

    with _saved_signals(), _quiet_launcher(), _environ(env):
        try:
            torchrun.run(torchrun.parse_args(argv))
        except ChildFailedError as e:
            raise _failure(e) from None
        except SignalException:  # Ctrl-C (or a SIGTERM) here, sent on to the ranks by the launcher
            raise KeyboardInterrupt from None
        except (DistError, RendezvousError) as e:  # a port in use, an unreachable master
            from ..lm import one_line

            at = f"{argv[argv.index('--master-addr') + 1]}:{argv[argv.index('--master-port') + 1]}"
            raise TokkitError(f"torch's launcher cannot meet the other processes at {at} ({one_line(e)})") from None


def _failure(e) -> BaseException:
    """The first failed rank's error: its own line, or what its exit says."""
    rank, f = e.get_first_failure()
    msg = f.message if isinstance(f.message, dict) else {}
    if msg.get("extraInfo", {}).get("tokkit"):
        return KeyboardInterrupt() if f.exitcode == 130 else TokkitError(str(msg.get("message", "")))
    if f.exitcode < 0:
        sig = f.signal_name()
        return KeyboardInterrupt() if sig == "SIGINT" else TokkitError(
            f"rank {rank} was stopped by {sig} (out of memory? its output is above)")
    return TokkitError(f"rank {rank} failed with exit code {f.exitcode} (its output is above)")


def _free_port(addr: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def _loopback() -> str | None:
    names = {name for _, name in socket.if_nameindex()} if hasattr(socket, "if_nameindex") else set()
    return next((n for n in ("lo", "lo0") if n in names), None)


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    """``env`` added to os.environ while the launcher runs (its workers inherit it), then undone."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _saved_signals() -> Iterator[None]:
    """torch's launcher installs its own SIGINT/SIGTERM/SIGHUP/SIGQUIT handlers and leaves them;
    the caller's come back afterwards (Ctrl-C is a KeyboardInterrupt again)."""
    sigs = [getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, n)]
    saved = {s: signal.getsignal(s) for s in sigs}
    try:
        yield
    finally:
        for s, h in saved.items():
            if h is not None:
                signal.signal(s, h)


@contextlib.contextmanager
def _quiet_launcher() -> Iterator[None]:
    """The launcher's own log off (its failure report, 'sending SIGTERM to ...', set up per
    module at WARNING by torch): a failed rank is reported as one line. Nothing else logs in this
    process while it waits for the ranks."""
    before = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(before)


__all__ = ["LAUNCHED", "Ranks", "agree_on_start", "all_sum", "env_rank", "in_launched_process", "join", "launch",
           "leave", "local_first", "report_failure", "wrap"]
