"""Make sure a finished flow run's task runs reach Prefect's database before the process exits.

In Prefect 3 the task engine never writes task runs through the API: each state change is an
event that the client-side `EventsWorker` sends over a websocket, and the server's
`TaskRunRecorder` service turns those events into task run rows later, one event at a time.
Against the ephemeral server, which is a subprocess of ours, a process that exits right after its
flow returns kills the server with most of those events still unrecorded.

The CLI therefore runs the flow inside `track_task_runs()`, which counts the task runs this process
created, and calls `wait_until_recorded` after the flow returns and before it exits::

    with track_task_runs() as tracker:
        state = rebalance_flow(config, return_state=True)
    flow_run_id = state.state_details.flow_run_id
    wait_until_recorded(flow_run_id, expected_task_runs=tracker.count(flow_run_id))
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from uuid import UUID

from prefect import get_client
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import TERMINAL_STATES, StateType
from prefect.client.schemas.sorting import TaskRunSort
from prefect.context import FlowRunContext
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker

# The logger of every task run's `PrefectLogAdapter`; its records carry `task_run_id` and
# `flow_run_id`. The task engine logs "Finished in state ..." on it once per task run, at INFO
# when the run completed and at ERROR otherwise, so INFO is the level that sees every run.
_TASK_RUN_LOGGER = "prefect.task_runs"

# A task run whose upstream failed stops in this Pending state for good: the engine gives up on it
# without ever proposing a final state.
_NOT_READY = "NotReady"

_FIRST_POLL_INTERVAL = 0.1
_MAX_POLL_INTERVAL = 1.0


class TaskRunTracker:
    """The task runs that this process created while `track_task_runs()` was open."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._task_run_ids: dict[UUID, set[UUID]] = {}

    def task_run_ids(self, flow_run_id: UUID, /) -> frozenset[UUID]:
        """Return the ids of the task runs this process ran for one flow run.

        Args:
            flow_run_id: The flow run, as in `state.state_details.flow_run_id`.

        Returns:
            The task run ids; a retried task run counts once, a subflow's task runs count under
            the subflow's own flow run.
        """
        with self._lock:
            return frozenset(self._task_run_ids.get(flow_run_id, ()))

    def count(self, flow_run_id: UUID, /) -> int:
        """Return how many task runs this process ran for one flow run: `expected_task_runs`."""
        return len(self.task_run_ids(flow_run_id))

    def _add(self, flow_run_id: UUID, task_run_id: UUID) -> None:
        with self._lock:
            self._task_run_ids.setdefault(flow_run_id, set()).add(task_run_id)


class _TaskRunRecordFilter(logging.Filter):
    """Note the run ids of each task run record, then let through what the level let through."""

    def __init__(self, tracker: TaskRunTracker, *, level: int) -> None:
        super().__init__()
        self._tracker = tracker
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        task_run_id = getattr(record, "task_run_id", None)
        flow_run_id = getattr(record, "flow_run_id", None)
        if task_run_id and flow_run_id:
            # ValueError: not a run's record, someone's own `extra` reusing the names.
            with suppress(ValueError):
                self._tracker._add(UUID(str(flow_run_id)), UUID(str(task_run_id)))
        # Records below the level the user configured exist only because `track_task_runs`
        # lowered it; drop them so handlers see exactly what they would have seen.
        return record.levelno >= self._level


@contextmanager
def track_task_runs() -> Iterator[TaskRunTracker]:
    """Count the task runs that flows run in this process create, by flow run.

    Task runs are counted from their log records: the task engine logs at least one INFO or
    higher record per task run. If the configured level hides INFO (`PREFECT_LOGGING_LEVEL`),
    the logger is lowered to INFO while the block runs and the extra records are dropped before
    any handler sees them, so console and API logs stay as configured.

    Only task runs executed in this process are seen: tasks sent to other processes (a
    process-pool, Dask or Ray task runner, or `.delay()` to task workers) are not counted.

    Yields:
        A tracker whose `count(flow_run_id)` is the `expected_task_runs` of `wait_until_recorded`.

    Raises:
        RuntimeError: If `logging.disable` hides INFO records, so task runs cannot be counted.
    """
    logger = logging.getLogger(_TASK_RUN_LOGGER)
    configured_level = logger.level
    effective_level = logger.getEffectiveLevel()
    if effective_level > logging.INFO:
        logger.setLevel(logging.INFO)
    tracker = TaskRunTracker()
    record_filter = _TaskRunRecordFilter(tracker, level=effective_level)
    logger.addFilter(record_filter)
    try:
        if not logger.isEnabledFor(logging.INFO):
            msg = (
                f"track_task_runs cannot count task runs: logging.disable() hides INFO records "
                f"of the {_TASK_RUN_LOGGER!r} logger; call logging.disable(logging.NOTSET) first."
            )
            raise RuntimeError(msg)
        yield tracker
    finally:
        logger.removeFilter(record_filter)
        if effective_level > logging.INFO:
            logger.setLevel(configured_level)


def wait_until_recorded(
    flow_run_id: UUID, /, *, expected_task_runs: int, timeout: float = 60.0
) -> int:
    """Block until the server has recorded `expected_task_runs` task runs of this flow run.

    First sends everything this process still holds for the server (task run state events and
    logs), then polls the API until the flow run is in a final state and at least
    `expected_task_runs` of its task runs are recorded, each in a final state or in the Pending
    state "NotReady" that a task run stops in when its upstream failed.

    Call it after the flow returned, not inside it (the flow run is not final until then), and
    from synchronous code (`await asyncio.to_thread(wait_until_recorded, ...)` from async code).
    It works against the ephemeral server and against a server at `PREFECT_API_URL` alike.

    Args:
        flow_run_id: The flow run, as in `state.state_details.flow_run_id`.
        expected_task_runs: How many task runs the flow run created, from
            `TaskRunTracker.count`.
        timeout: Seconds to wait in all, for sending and for recording.

    Returns:
        The number of task runs recorded for the flow run.

    Raises:
        ValueError: If `expected_task_runs` is negative or `timeout` is not positive.
        RuntimeError: If called inside that flow run, or from a thread running an event loop.
        TimeoutError: If the events could not be sent, or the task runs not recorded, in time.
    """
    if expected_task_runs < 0:
        msg = f"expected_task_runs must be 0 or more, got {expected_task_runs}."
        raise ValueError(msg)
    if timeout <= 0:
        msg = f"timeout must be a positive number of seconds, got {timeout}."
        raise ValueError(msg)
    _check_caller(flow_run_id)
    deadline = time.monotonic() + timeout

    _drain_client_services(deadline=deadline)

    interval = _FIRST_POLL_INTERVAL
    with get_client(sync_client=True) as client:
        while True:
            flow_run = client.read_flow_run(flow_run_id)
            recorded, settled = _read_task_run_progress(client, flow_run_id)
            flow_run_final = flow_run.state is not None and flow_run.state.is_final()
            if flow_run_final and recorded >= expected_task_runs and settled == recorded:
                return recorded
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                flow_run_state = flow_run.state.name if flow_run.state else "no state"
                msg = (
                    f"Prefect recorded {recorded} of {expected_task_runs} expected task runs of "
                    f"flow run {flow_run_id} ({settled} of them finished; flow run state "
                    f"{flow_run_state!r}) within {timeout:g} s; pass a longer timeout."
                )
                raise TimeoutError(msg)
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, _MAX_POLL_INTERVAL)


def _check_caller(flow_run_id: UUID) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        msg = (
            "wait_until_recorded blocks and cannot run on an event loop's thread; call it as "
            "`await asyncio.to_thread(wait_until_recorded, ...)`."
        )
        raise RuntimeError(msg)
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None and context.flow_run.id == flow_run_id:
        msg = (
            f"wait_until_recorded was called inside flow run {flow_run_id}, which cannot be final "
            "before it returns; call it after the flow returns."
        )
        raise RuntimeError(msg)


def _drain_client_services(*, deadline: float) -> None:
    """Send every queued event and log to the server and stop the workers that held them.

    A later event or log starts a fresh worker, so the process can go on running flows.
    """
    # `drain_all` stops the workers and returns futures that resolve once each worker's queue is
    # empty and its websocket or HTTP client is closed, i.e. every event has been handed to the
    # server. Events go first: they are what task runs are recorded from.
    for service in (EventsWorker, APILogWorker):
        timeout = max(deadline - time.monotonic(), 0.0)
        _done, not_done = service.drain_all(timeout=timeout, at_exit=False)
        if not_done:
            msg = (
                f"{service.__name__} did not finish sending to the Prefect server in time; "
                "check that the server is reachable, or pass a longer timeout."
            )
            raise TimeoutError(msg)


def _read_task_run_progress(client: SyncPrefectClient, flow_run_id: UUID) -> tuple[int, int]:
    """Return how many task runs of the flow run are recorded, and how many of those settled."""
    flow_run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    states: dict[UUID, tuple[StateType | None, str | None]] = {}
    offset = 0
    while True:
        # No `limit`: the server applies its own maximum page size, whatever it is configured to.
        page = client.read_task_runs(
            flow_run_filter=flow_run_filter, sort=TaskRunSort.ID_DESC, offset=offset
        )
        if not page:
            break
        for task_run in page:
            states[task_run.id] = (task_run.state_type, task_run.state_name)
        offset += len(page)
    settled = sum(1 for state_type, name in states.values() if _is_settled(state_type, name))
    return len(states), settled


def _is_settled(state_type: StateType | None, name: str | None) -> bool:
    if state_type is None:
        return False
    if state_type == StateType.PENDING:
        return name == _NOT_READY
    return state_type in TERMINAL_STATES
