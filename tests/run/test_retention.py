"""`retention.keep` deletes old runs, never `latest`, the rollback target or a run in use."""

import json
import os
import shutil
import socket
from pathlib import Path

import pytest
from filelock import FileLock

from rebalance.config import load_config
from rebalance.errors import ConfigError
from tasks.run import retention
from tasks.run.folder import LATEST, OWNER_FILE, open_run_folder, point_latest
from tasks.run.manifest import write_manifest
from tasks.run.retention import LOCK_FILE, prune_runs, runs_to_delete
from tasks.run.rollback import published_runs, roll_back
from tests.helpers import write_config

RUNS = [f"202611{day:02d}T020000Z-{day:06x}" for day in range(1, 7)]


def _publish(dataset: Path, run_id: str) -> None:
    folder = dataset / run_id
    folder.mkdir(parents=True)
    (folder / "train.parquet").write_bytes(run_id.encode())
    write_manifest({"run_id": run_id}, folder)
    point_latest(dataset, run_id)


@pytest.fixture
def dataset(tmp_path):
    dataset = tmp_path / "out" / "t"
    for run_id in RUNS:
        _publish(dataset, run_id)
    return dataset


def _on_disk(dataset: Path) -> list[str]:
    return sorted(path.name for path in dataset.iterdir() if not path.name.startswith("."))


def test_keep_counts_the_runs_besides_latest():
    assert runs_to_delete(RUNS, latest=RUNS[-1], keep=2) == RUNS[:3]


def test_after_a_rollback_latest_and_the_run_before_it_are_kept_beside_the_newest():
    # `latest` was rolled back to the third run; the two newer ones stay for inspection.
    doomed = runs_to_delete(RUNS, latest=RUNS[2], keep=1)

    assert doomed == [RUNS[0], RUNS[3], RUNS[4]]


def test_pruning_leaves_latest_and_what_rollback_goes_back_to(dataset):
    pruned = prune_runs(dataset, keep=1)

    assert pruned.deleted == RUNS[:4]
    assert pruned.kept == RUNS[4:]
    assert _on_disk(dataset) == [*RUNS[4:], LATEST]
    assert os.readlink(dataset / LATEST) == RUNS[-1]
    assert roll_back(dataset).folder == dataset / RUNS[4]


def test_without_keep_every_run_stays(dataset):
    pruned = prune_runs(dataset, keep=None)

    assert pruned.deleted == []
    assert published_runs(dataset) == RUNS


def test_nothing_is_deleted_while_a_run_of_the_dataset_is_writing(dataset):
    writing = open_run_folder(dataset, run_id="20261107T020000Z-000007")

    pruned = prune_runs(dataset, keep=1)

    assert pruned.deleted == []
    assert writing.temp.name in (pruned.skipped or "")
    assert published_runs(dataset) == RUNS


def test_a_dead_runs_folder_does_not_stop_pruning(dataset):
    dead = dataset / ".tmp-20261107T020000Z-000007"
    dead.mkdir()
    (dead / OWNER_FILE).write_text(
        json.dumps({"host": socket.gethostname(), "pid": 2**22 + 12345, "run_id": "x"})
    )

    assert prune_runs(dataset, keep=3).deleted == RUNS[:2]


def test_a_second_pruner_skips_while_the_first_holds_the_lock(dataset):
    with FileLock(dataset / LOCK_FILE):
        pruned = prune_runs(dataset, keep=1)

    assert pruned.deleted == []
    assert "deleting old runs right now" in (pruned.skipped or "")
    assert published_runs(dataset) == RUNS


def test_a_failed_deletion_is_reported_and_hides_the_half_deleted_run(dataset, monkeypatch):
    real_rmtree = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if Path(path).name.endswith(RUNS[1]):
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(retention.shutil, "rmtree", rmtree)
    pruned = prune_runs(dataset, keep=1)

    assert pruned.deleted == [RUNS[0], RUNS[2], RUNS[3]]
    assert list(pruned.failed) == [RUNS[1]]
    assert "Permission denied" in pruned.failed[RUNS[1]]
    # Not listed as a run any more (rollback cannot pick it), and the next pass removes it.
    assert published_runs(dataset) == RUNS[4:]
    monkeypatch.setattr(retention.shutil, "rmtree", real_rmtree)
    prune_runs(dataset, keep=1)
    assert sorted(path.name for path in dataset.iterdir()) == [LOCK_FILE, *RUNS[4:], LATEST]


def test_a_dangling_latest_stops_pruning(dataset):
    point_latest(dataset, "20261231T000000Z-ffffff")

    pruned = prune_runs(dataset, keep=1)

    assert pruned.deleted == []
    assert "does not point at a published run" in (pruned.skipped or "")


def test_keep_must_leave_the_rollback_target(tmp_path):
    config = write_config(tmp_path, "d.csv", retention={"keep": 0})

    with pytest.raises(ConfigError, match=r"retention\.keep"):
        load_config(config)
    kept = load_config(write_config(tmp_path, "d.csv", retention={"keep": 7}))
    assert kept.retention.keep == 7
