"""`rebalance rollback` moves `latest` back to an intact earlier run, atomically."""

import json
import os
from pathlib import Path

import pytest

from rebalance.cli import main
from rebalance.errors import DataError
from tasks.run.folder import point_latest
from tasks.run.manifest import write_manifest
from tasks.run.rollback import published_runs, roll_back
from tests.helpers import write_config


def _publish(dataset: Path, run_id: str) -> Path:
    folder = dataset / run_id
    folder.mkdir(parents=True)
    (folder / "train.parquet").write_bytes(run_id.encode())
    write_manifest({"run_id": run_id}, folder)
    point_latest(dataset, run_id)
    return folder


@pytest.fixture
def dataset(tmp_path):
    dataset = tmp_path / "out" / "t"
    for run_id in ("20261101T000000Z-aaaaaa", "20261102T000000Z-bbbbbb", "20261103T000000Z-cccccc"):
        _publish(dataset, run_id)
    (dataset / ".tmp-20261104T000000Z-dddddd").mkdir()  # a run in progress or killed
    (dataset / "20261104T000000Z-eeeeee").mkdir()  # no manifest: not a complete run
    return dataset


def _latest(dataset: Path) -> str:
    return os.path.basename(os.path.realpath(dataset / "latest"))


def test_only_complete_runs_are_listed(dataset):
    assert published_runs(dataset) == [
        "20261101T000000Z-aaaaaa",
        "20261102T000000Z-bbbbbb",
        "20261103T000000Z-cccccc",
    ]


def test_rollback_steps_back_one_run_at_a_time(dataset):
    moved = roll_back(dataset)
    assert _latest(dataset) == "20261102T000000Z-bbbbbb"
    assert (moved.previous, moved.current) == ("20261103T000000Z-cccccc", _latest(dataset))
    assert moved.folder == dataset / "20261102T000000Z-bbbbbb"
    roll_back(dataset)
    assert _latest(dataset) == "20261101T000000Z-aaaaaa"
    with pytest.raises(DataError, match="no run before 20261101T000000Z-aaaaaa"):
        roll_back(dataset)


def test_rollback_to_a_named_run_and_forward_again(dataset):
    roll_back(dataset, to="20261101T000000Z-aaaaaa")
    roll_back(dataset, to="20261103T000000Z-cccccc")
    assert _latest(dataset) == "20261103T000000Z-cccccc"
    with pytest.raises(DataError, match="no complete run '20261104T000000Z-eeeeee'"):
        roll_back(dataset, to="20261104T000000Z-eeeeee")


def test_a_run_whose_files_changed_is_refused(dataset):
    (dataset / "20261102T000000Z-bbbbbb" / "train.parquet").write_bytes(b"edited")

    with pytest.raises(DataError, match="no longer matches the file hashes"):
        roll_back(dataset)
    assert _latest(dataset) == "20261103T000000Z-cccccc"


def test_cli_rollback_prints_the_runs_latest_moved_from_and_to(dataset, tmp_path, capsys):
    config = write_config(tmp_path, "d.csv")

    assert main(["rollback", str(config)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == str(dataset / "20261102T000000Z-bbbbbb")
    assert printed.err.strip() == (
        "rebalance: `latest` moved from 20261103T000000Z-cccccc to 20261102T000000Z-bbbbbb"
    )
    assert main(["rollback", str(config), "--to", "nope"]) == 1
    assert "no complete run 'nope'" in capsys.readouterr().err
    manifest = json.loads((dataset / "latest" / "manifest.json").read_text())
    assert manifest["run_id"] == "20261102T000000Z-bbbbbb"
    assert main(["rollback", str(config), "--to", "20261103T000000Z-cccccc"]) == 0
    moved = capsys.readouterr().err.strip()
    assert moved.endswith("from 20261102T000000Z-bbbbbb to 20261103T000000Z-cccccc")
