"""The one way a modality spreads work: shards run as Prefect tasks on the run's task runner.

A modality cuts its work into shards (image jobs, token batches) and hands them to `Shards`
with the plain function that does one shard, `work(shard, **shared)`. Inside a flow run each
shard becomes a task run of that function (retried by the run's policy) mapped on the runner
that the config's
`runner:` section names: Prefect's thread pool in the flow's process, or Dask worker processes.
The runner starts at the first shard (a local Dask cluster takes seconds) and stops when the
`Shards` block ends, so rounds of work share it. Outside a flow run (tests, notebooks) the
shards run inline, in order, with no Prefect at all.

`work` must be a module-level function whose first parameter is named `shard`, and the shared
arguments picklable: Dask workers import the function by name and receive the arguments over
the network.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tasks.core.artifacts import artifact_key, in_flow_run
from tasks.core.retry import retry_unless_user_error, with_policy
from tasks.core.runners import describe, started_task_runner

if TYPE_CHECKING:
    from rebalance.config import CommonConfig

ShardT = TypeVar("ShardT", bound=Sequence[Any])
ResultT = TypeVar("ResultT")


@dataclass(frozen=True)
class Progress:
    """A progress artifact (`<dataset>-<suffix>`) moved on as shards finish, by their size."""

    suffix: str
    description: str


class Shards:
    """Shards of one kind of work on the config's runner; use it as a context manager.

    Args:
        config: The run's config: its `runner`, `retries`, `retry_delay_seconds` and `name`.
        name: The task runs' name (`augment-shard`, `translate-shard`).
        what: What the shards do, for the log line when the runner starts.
    """

    def __init__(self, config: CommonConfig, /, *, name: str, what: str) -> None:
        self.config = config
        self.name = name
        self.what = what
        # Shards run as task runs so far (inline runs outside a flow run are not counted).
        self.shards_run = 0
        self._stack = contextlib.ExitStack()
        self._runner: Any = None

    def __enter__(self) -> Shards:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()
        self._runner = None

    def run(
        self,
        work: Callable[..., ResultT],
        shards: Sequence[ShardT],
        /,
        *,
        progress: Progress | None = None,
        **shared: Any,
    ) -> list[ResultT]:
        """`work(shard, **shared)` for every shard, results in the shards' order."""
        if not shards:
            return []
        if not in_flow_run():
            return [work(shard, **shared) for shard in shards]
        # Prefect is imported here, in a flow run: a modality imported for a rerun check or
        # `rebalance validate` does not pay its import (seconds).
        from prefect import task
        from prefect.artifacts import create_progress_artifact, update_progress_artifact
        from prefect.cache_policies import NO_CACHE
        from prefect.futures import as_completed
        from prefect.utilities.annotations import unmapped

        artifact = None
        if progress is not None:
            artifact = create_progress_artifact(
                0.0,
                key=artifact_key(self.config.name, progress.suffix),
                description=progress.description,
            )
        # A task of the work function itself: Dask's dashboard then names it too.
        shard_task = task(
            work,
            name=self.name,
            cache_policy=NO_CACHE,
            retry_condition_fn=retry_unless_user_error,
        )
        parameters = {"shard": list(shards)} | {
            name: unmapped(value) for name, value in shared.items()
        }
        futures = self._started().map(with_policy(shard_task, self.config), parameters)
        self.shards_run += len(shards)
        position = {future.task_run_id: index for index, future in enumerate(futures)}
        results: list[Any] = [None] * len(shards)
        total, done = sum(len(shard) for shard in shards), 0
        for future in as_completed(futures):
            index = position[future.task_run_id]
            results[index] = future.result()
            done += len(shards[index])
            if artifact is not None:
                update_progress_artifact(artifact, 100.0 * done / total)
        return results

    def _started(self) -> Any:
        if self._runner is None:
            from prefect import get_run_logger

            get_run_logger().info("%s on %s", self.what, describe(self.config.runner))
            self._runner = self._stack.enter_context(started_task_runner(self.config.runner))
        return self._runner
