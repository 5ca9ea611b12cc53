"""Where a `rebalance run` spends its time outside the steps, on request: with
`REBALANCE_TIMELINE=1` the CLI prints one stderr line of seconds since the process started
(imports, server ready, flow run start and end, each task run, exit work).

The steps' own times are in manifest.json (`timings_seconds`), but not what comes before
the first task (imports, Prefect's server start, database migrations on a new
PREFECT_HOME) or after the last (recording task runs, stopping the server): most of a
run's time on a small table. `benchmarks/tabular.py` reads this line.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

ENV_VAR = "REBALANCE_TIMELINE"
PREFIX = "rebalance: timeline:"


def _process_start_epoch() -> float:
    """When this process started, from /proc (10 ms steps); this module's import elsewhere."""
    try:
        with open("/proc/self/stat") as stat:
            # Field 22, after the command name in parentheses (which may hold spaces).
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as uptime:
            booted_seconds_ago = float(uptime.read().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
        return time.time() - booted_seconds_ago + start_ticks / ticks
    except (OSError, ValueError, IndexError):
        return time.time()


class Timeline:
    """Named moments, in seconds since the process started; empty when not enabled."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._start = _process_start_epoch() if enabled else 0.0
        self._marks: list[tuple[str, float]] = []

    @classmethod
    def from_environment(cls) -> Timeline:
        return cls(enabled=os.environ.get(ENV_VAR, "") not in ("", "0"))

    def mark(self, name: str, at: float | datetime | None = None) -> None:
        """Note a moment: now, an epoch time, or a timezone-aware datetime (Prefect's)."""
        if not self.enabled:
            return
        if isinstance(at, datetime):
            at = at.timestamp()
        self._marks.append((name, (time.time() if at is None else at) - self._start))

    def line(self) -> str:
        """`rebalance: timeline: name=1.234 name=5.678 ...`, in the order marked."""
        return f"{PREFIX} " + " ".join(f"{name}={seconds:.3f}" for name, seconds in self._marks)

    def print(self) -> None:
        if self.enabled:
            print(self.line(), file=sys.stderr, flush=True)


def parse(stderr: str) -> dict[str, float]:
    """The marks of the last timeline line in a CLI's stderr (empty if none)."""
    lines = [line for line in stderr.splitlines() if line.startswith(PREFIX)]
    if not lines:
        return {}
    pairs = (item.rsplit("=", 1) for item in lines[-1][len(PREFIX) :].split())
    return {name: float(seconds) for name, seconds in pairs}


def mark_flow_run(timeline: Timeline, flow_run_id) -> None:
    """Mark the flow run's and its task runs' start and end times, as Prefect recorded them.

    Call it once the task runs are recorded (`prefect_sync.wait_until_recorded`).
    """
    if not timeline.enabled:
        return
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC,
        )
    if flow_run.start_time is None or flow_run.end_time is None:
        return
    timeline.mark("flow_start", flow_run.start_time)
    for task_run in sorted(task_runs, key=lambda run: run.start_time or flow_run.start_time):
        name = task_run.name.rsplit("-", 1)[0]  # "ingest-455": the task's name, a run suffix
        if task_run.start_time is not None and task_run.end_time is not None:
            timeline.mark(f"start:{name}", task_run.start_time)
            timeline.mark(f"end:{name}", task_run.end_time)
    timeline.mark("flow_end", flow_run.end_time)
