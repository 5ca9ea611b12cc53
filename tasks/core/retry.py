"""The retry policy of every Prefect task of a run: transient faults retried, user errors not.

Errors in the user's data or config (`RebalanceError`) cannot succeed on a second try, so they
stop the run at once. Anything else (a flaky disk, a network share, a killed worker) is retried
`retries` times with exponential backoff. No task caches: inputs are whole data frames, and
hashing them for a cache key would cost more than the step.

Prefect is imported where a task is made, not with this module: the modalities import it
through the fan-out helper, and the CLI's rerun check should not pay Prefect's import.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rebalance import faults
from rebalance.errors import RebalanceError

if TYPE_CHECKING:
    from prefect import Task

    from rebalance.config import CommonConfig


def retry_unless_user_error(task, task_run, state) -> bool:
    """Prefect retry condition: retry transient faults, never bad input or config."""
    try:
        state.result(raise_on_failure=True)
    except RebalanceError:
        return False
    except Exception:
        return True
    return True


def with_policy(step: Task, config: CommonConfig) -> Task:
    """The task with the run's retry count and exponential backoff."""
    from prefect.tasks import exponential_backoff

    delays = exponential_backoff(backoff_factor=config.retry_delay_seconds)(config.retries)
    return step.with_options(retries=config.retries, retry_delay_seconds=delays or 0)


def step(name: str) -> Callable[[Callable[..., Any]], Task]:
    """A Prefect task named `name`: no cache, user errors not retried, a fault-injection point
    (`REBALANCE_FAULTS`, see `rebalance.faults`)."""

    from prefect import task
    from prefect.cache_policies import NO_CACHE

    def decorate(fn: Callable[..., Any]) -> Task:
        @functools.wraps(fn)
        def run_step(*args: Any, **kwargs: Any) -> Any:
            faults.inject(name)
            return fn(*args, **kwargs)

        return task(name=name, cache_policy=NO_CACHE, retry_condition_fn=retry_unless_user_error)(
            run_step
        )

    return decorate
