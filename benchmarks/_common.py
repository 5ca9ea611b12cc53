"""Shared by the benchmark scripts: machine description, child-process measurement, stats.

Each benchmark runs our path and its baseline as child processes, alternately, so both see
the same machine load; this module measures a child's wall time and peak memory.
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@contextlib.contextmanager
def working_folder(kept: Path | None, /) -> Iterator[Path]:
    """Where a benchmark writes its data and outputs: `--workdir` (made if missing, kept), or
    a temporary folder removed afterwards (the large ones take a GB or more)."""
    if kept is not None:
        kept.mkdir(parents=True, exist_ok=True)
        yield kept
        return
    with tempfile.TemporaryDirectory(prefix="rebalance-bench-") as scratch:
        yield Path(scratch)


def full() -> bool:
    """`BENCH_FULL=1`: the long sizes `make bench` leaves out to stay under 20 minutes."""
    return os.environ.get("BENCH_FULL", "") == "1"


def machine() -> str:
    """One line: CPU count, memory, load averages, Python and platform."""
    cores = os.cpu_count()
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
        memory = f"{total_kib / 2**20:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "RAM unknown"
    load = "/".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"machine: {cores} cores, {memory}, load average {load} (1/5/15 min), "
        f"Python {platform.python_version()}, {platform.platform(terse=True)}"
    )


@dataclass(frozen=True)
class Measured:
    """One child run: wall seconds, peak RSS of the largest process, peak RSS of the tree."""

    wall_s: float
    max_rss_mib: float
    tree_rss_mib: float
    returncode: int
    stdout: str
    stderr: str


def _tree_rss_kib(root: int) -> int:
    """Summed RSS of a process and all its descendants, from /proc."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(command: list[str], *, env: dict[str, str] | None = None) -> Measured:
    """Run a command; its wall time, peak RSS (ru_maxrss over the tree) and summed tree RSS.

    ru_maxrss from wait4 is the largest single process of the tree; the summed RSS of the
    whole tree (e.g. a CLI plus the Prefect server it starts) is sampled every 50 ms.
    """
    peak = [0]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss_kib(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # Read the pipes on threads so a chatty child cannot block on a full pipe.
    out: dict[str, str] = {}
    readers = [
        threading.Thread(target=lambda k=key, s=stream: out.__setitem__(k, s.read()))
        for key, stream in (("stdout", process.stdout), ("stderr", process.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    for reader in readers:
        reader.join()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall_s=wall,
        max_rss_mib=usage.ru_maxrss / 1024,
        tree_rss_mib=peak[0] / 1024,
        returncode=process.returncode,
        stdout=out.get("stdout", ""),
        stderr=out.get("stderr", ""),
    )


def spread(values: list[float], *, unit: str = "s") -> str:
    """Median and range of a list of timings (or rates, with their `unit`)."""
    if len(values) == 1:
        return f"{values[0]:.2f} {unit} (1 round)"
    return (
        f"median {statistics.median(values):.2f} {unit} "
        f"(min {min(values):.2f}, max {max(values):.2f}, {len(values)} rounds)"
    )


def python() -> str:
    """The interpreter running the benchmark (the project's venv under `make bench`)."""
    return sys.executable


def check(measured: Measured, what: str) -> None:
    """Stop the benchmark with the child's stderr when it failed."""
    if measured.returncode != 0:
        tail = "\n".join(measured.stderr.strip().splitlines()[-15:])
        msg = f"{what} exited with status {measured.returncode}:\n{tail}"
        raise SystemExit(msg)
