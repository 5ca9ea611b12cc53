"""The Prefect task runner a run's parallel work (image and translation shards) is mapped on.

`runner.kind: threads` is Prefect's thread pool in the flow's process; `dask` is prefect-dask's
`DaskTaskRunner`: a temporary local cluster of single-threaded worker processes, or a running
cluster by scheduler address. The runner comes from the run's config, which is the flow's
parameter, so a run started by the CLI, `flow.with_options`, `rebalance serve` or a deployment's
worker uses the same one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rebalance.config import RunnerConfig

# Dask's nanny gives worker processes MALLOC_TRIM_THRESHOLD_=65536 to hand freed memory back
# to the OS. Setting it also fixes glibc's mmap threshold at 128 KiB, so every image-sized
# array is mmapped and unmapped again: image shards ran at half speed in Dask workers
# (measured: 88 vs 166-185 images/s in one process with and without it). A local cluster
# lives for one step, so trimming buys nothing there; None unsets it (distributed's rule).
LOCAL_WORKER_ENVIRONMENT = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@contextlib.contextmanager
def started_task_runner(runner: RunnerConfig, /) -> Iterator:
    """The config's task runner, started; a local Dask cluster's workers without trimming."""
    environment = contextlib.nullcontext()
    if runner.kind == "dask" and runner.address is None:
        import dask
        import distributed  # noqa: F401  # its config defaults first: the set() below
        # restores the config as it was on exit, which must not drop them.

        environment = dask.config.set(LOCAL_WORKER_ENVIRONMENT)
    with environment, task_runner(runner) as started:
        yield started


def task_runner(runner: RunnerConfig, /):
    """A fresh, unstarted Prefect task runner for the config (enter it to start it)."""
    if runner.kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=runner.workers or os.cpu_count() or 1)
    from prefect_dask import DaskTaskRunner

    if runner.address is not None:
        return DaskTaskRunner(address=runner.address)
    # Processes, one thread each: image shards are Python-heavy, so threads share one GIL.
    # No dashboard: it needs bokeh and a free port, and a run's cluster lives for one step.
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": runner.workers or os.cpu_count() or 1,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


def describe(runner: RunnerConfig, /) -> str:
    """`threads (2)`, `dask, local cluster of 2 processes`, `dask at tcp://...`: for logs."""
    count = runner.workers or os.cpu_count() or 1
    if runner.kind == "threads":
        return f"threads ({count})"
    if runner.address is not None:
        return f"dask at {runner.address}"
    return f"dask, local cluster of {count} processes"
