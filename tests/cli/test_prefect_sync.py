"""Tests for `rebalance.prefect_sync`.

The slow test runs each Prefect process as a subprocess with its own ephemeral server, because
what it proves is that task runs are in the database after the process that ran them has exited:
a shared in-process `prefect_test_harness` outlives the flow and would hide the problem.
"""

import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from rebalance.prefect_sync import track_task_runs, wait_until_recorded

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULT_PREFIX = "RESULT="
N_SUBMITTED = 80
N_CALLED = 20

# Runs a flow of trivial tasks, waits for the server to record them, and exits at once.
RUN_FLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys, time

    from prefect import flow, task

    from rebalance.prefect_sync import track_task_runs, wait_until_recorded

    @task
    def double(x: int) -> int:
        return 2 * x

    @flow
    def many_tasks(n_submitted: int, n_called: int) -> int:
        futures = [double.submit(i) for i in range(n_submitted)]
        total = sum(future.result() for future in futures)
        return total + sum(double(i) for i in range(n_called))

    n_submitted, n_called = int(sys.argv[1]), int(sys.argv[2])
    with track_task_runs() as tracker:
        state = many_tasks(n_submitted, n_called, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    expected = tracker.count(flow_run_id)
    started = time.monotonic()
    recorded = wait_until_recorded(flow_run_id, expected_task_runs=expected, timeout=120)
    wait_s = time.monotonic() - started
    try:
        wait_until_recorded(flow_run_id, expected_task_runs=expected + 1, timeout=1)
        timeout_message = None
    except TimeoutError as exc:
        timeout_message = str(exc)
    print("RESULT=" + json.dumps({
        "flow_run_id": str(flow_run_id),
        "result": state.result(),
        "expected": expected,
        "recorded": recorded,
        "wait_s": wait_s,
        "timeout_message": timeout_message,
    }))
    """
)

# Reads, from a fresh ephemeral server on the same database, what was recorded for a flow run.
COUNT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from uuid import UUID

    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(sys.argv[1])]))
    task_runs, offset = [], 0
    with get_client(sync_client=True) as client:
        while page := client.read_task_runs(flow_run_filter=flow_run_filter, offset=offset):
            task_runs += page
            offset += len(page)
    print("RESULT=" + json.dumps({
        "task_run_ids": sorted({str(task_run.id) for task_run in task_runs}),
        "state_types": sorted(task_run.state_type.value for task_run in task_runs),
    }))
    """
)


def _prefect_env(prefect_home: Path) -> dict[str, str]:
    # Drop the caller's PREFECT_* settings (an API URL would send the runs to a real server).
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # A fresh database takes ~25 s of migrations on a small machine; the default is 20 s.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    }
    return env


def _run_script(script: Path, *args: str, env: dict[str, str]) -> dict:
    completed = subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    results = [
        line.removeprefix(RESULT_PREFIX)
        for line in completed.stdout.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    assert len(results) == 1, completed.stdout[-4000:] + completed.stderr[-4000:]
    return json.loads(results[0])


@pytest.mark.slow
def test_wait_until_recorded_keeps_every_task_run_after_exit(tmp_path: Path) -> None:
    # Arrange
    env = _prefect_env(tmp_path / "prefect_home")
    run_flow, count = tmp_path / "run_flow.py", tmp_path / "count.py"
    run_flow.write_text(RUN_FLOW_SCRIPT)
    count.write_text(COUNT_SCRIPT)
    n_task_runs = N_SUBMITTED + N_CALLED

    # Act
    ran = _run_script(run_flow, str(N_SUBMITTED), str(N_CALLED), env=env)
    stored = _run_script(count, ran["flow_run_id"], env=env)

    # Assert
    assert ran["result"] == 2 * (sum(range(N_SUBMITTED)) + sum(range(N_CALLED)))
    assert ran["expected"] == n_task_runs
    assert ran["recorded"] == n_task_runs
    assert f"recorded {n_task_runs} of {n_task_runs + 1} expected" in ran["timeout_message"]
    assert len(stored["task_run_ids"]) == n_task_runs
    assert stored["state_types"] == ["COMPLETED"] * n_task_runs


@pytest.fixture
def task_run_logger() -> Iterator[logging.Logger]:
    """Prefect's task run logger, cut off from its handlers (one sends records to the API)."""
    logger = logging.getLogger("prefect.task_runs")
    handlers, propagate, level = logger.handlers[:], logger.propagate, logger.level
    for handler in handlers:
        logger.removeHandler(handler)
    logger.propagate = False
    yield logger
    for handler in handlers:
        logger.addHandler(handler)
    logger.propagate = propagate
    logger.setLevel(level)


def test_track_task_runs_counts_distinct_task_runs_per_flow_run(
    task_run_logger: logging.Logger,
) -> None:
    # Arrange
    flow_run_a, flow_run_b = uuid4(), uuid4()
    task_runs_a, task_run_b = [uuid4(), uuid4()], uuid4()
    logger = task_run_logger
    records = [(flow_run_a, task_runs_a[0]), (flow_run_a, task_runs_a[0])]
    records += [(flow_run_a, task_runs_a[1]), (flow_run_b, task_run_b)]

    # Act
    with track_task_runs() as tracker:
        for flow_run_id, task_run_id in records:
            extra = {"flow_run_id": str(flow_run_id), "task_run_id": str(task_run_id)}
            logger.info("Finished in state Completed()", extra=extra)
        logger.info("a record of no task run")

    # Assert
    assert tracker.task_run_ids(flow_run_a) == frozenset(task_runs_a)
    assert tracker.count(flow_run_b) == 1
    assert tracker.count(uuid4()) == 0


def test_track_task_runs_counts_records_hidden_by_the_level_without_showing_them(
    task_run_logger: logging.Logger,
) -> None:
    # Arrange
    flow_run_id = uuid4()
    logger = task_run_logger
    shown: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = shown.append
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)

    # Act
    with track_task_runs() as tracker:
        extra = {"flow_run_id": str(flow_run_id), "task_run_id": str(uuid4())}
        logger.info("Finished in state Completed()", extra=extra)
        logger.error("Finished in state Failed()", extra={**extra, "task_run_id": uuid4().hex})
    level_after = logger.level
    logger.removeHandler(handler)

    # Assert
    assert tracker.count(flow_run_id) == 2
    assert [record.levelno for record in shown] == [logging.ERROR]
    assert level_after == logging.WARNING


@pytest.mark.parametrize(
    ("expected_task_runs", "timeout", "culprit"),
    [(-1, 60.0, "expected_task_runs"), (3, 0.0, "timeout")],
)
def test_wait_until_recorded_rejects_bad_arguments(
    expected_task_runs: int, timeout: float, culprit: str
) -> None:
    with pytest.raises(ValueError, match=culprit):
        wait_until_recorded(UUID(int=1), expected_task_runs=expected_task_runs, timeout=timeout)
