"""The one fan-out helper: shards inline outside a flow, as task runs on the runner inside one."""

import threading

import pytest

from rebalance.config import parse_config
from tasks.core.fanout import Progress, Shards

CONFIG = parse_config(
    {"name": "fan", "source": "x.csv", "label": "y", "retries": 0, "runner": {"workers": 2}}
)


def scaled(shard, *, factor):
    """A shard's work: its numbers times `factor`, and the thread that did it."""
    return [value * factor for value in shard], threading.current_thread().name


def test_outside_a_flow_run_shards_run_inline_in_order():
    with Shards(CONFIG, name="scale-shard", what="scaling") as shards:
        results = shards.run(scaled, [[1, 2], [3], [4, 5, 6]], factor=10)

    assert [values for values, _ in results] == [[10, 20], [30], [40, 50, 60]]
    assert {thread for _, thread in results} == {threading.current_thread().name}
    assert shards.shards_run == 0  # no task runs
    assert shards.run(scaled, [], factor=1) == []


@pytest.mark.flow
def test_in_a_flow_run_shards_are_task_runs_on_the_runner_with_progress(prefect_harness):
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    @flow
    def fan_out() -> tuple[list, int]:
        with Shards(CONFIG, name="scale-shard", what="scaling") as shards:
            results = shards.run(
                scaled,
                [[index] for index in range(8)],
                progress=Progress("scale-progress", "Scaled numbers"),
                factor=3,
            )
        return results, shards.shards_run

    results, shards_run = fan_out()

    assert [values for values, _ in results] == [[3 * index] for index in range(8)]
    assert shards_run == 8
    assert threading.current_thread().name not in {thread for _, thread in results}
    by_key = ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=["fan-scale-progress"]))
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_latest_artifacts(artifact_filter=by_key)
    assert artifact.type == "progress" and artifact.data == 100.0
