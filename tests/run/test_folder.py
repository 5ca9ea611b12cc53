import json
import os

from tasks.run.folder import (
    LATEST,
    OWNER_FILE,
    discard_run_folder,
    open_run_folder,
    point_latest,
    publish_run_folder,
    remove_abandoned_folders,
)


def test_a_published_run_is_renamed_into_place_and_latest_points_at_it(tmp_path):
    folder = open_run_folder(tmp_path / "d", run_id="r1")
    (folder.temp / "train.parquet").write_text("x")

    final = publish_run_folder(folder)

    assert final == tmp_path / "d" / "r1"
    assert not folder.temp.exists()
    assert not (final / OWNER_FILE).exists()
    assert os.readlink(tmp_path / "d" / LATEST) == "r1"
    assert (tmp_path / "d" / LATEST / "train.parquet").read_text() == "x"


def test_a_discarded_run_leaves_earlier_runs_and_latest_alone(tmp_path):
    good = open_run_folder(tmp_path / "d", run_id="good")
    publish_run_folder(good)
    bad = open_run_folder(tmp_path / "d", run_id="bad")
    (bad.temp / "half.parquet").write_text("x")

    discard_run_folder(bad)

    assert sorted(path.name for path in (tmp_path / "d").iterdir()) == ["good", LATEST]
    assert os.readlink(tmp_path / "d" / LATEST) == "good"


def test_discarding_the_only_run_removes_the_empty_dataset_folder(tmp_path):
    folder = open_run_folder(tmp_path / "d", run_id="r")

    discard_run_folder(folder)

    assert not (tmp_path / "d").exists()


def test_folders_of_dead_runs_are_removed_and_live_ones_kept(tmp_path):
    dataset = tmp_path / "d"
    live = open_run_folder(dataset, run_id="live")
    dead = dataset / ".tmp-dead"
    dead.mkdir()
    owner = json.loads((live.temp / OWNER_FILE).read_text())
    (dead / OWNER_FILE).write_text(json.dumps({**owner, "pid": 2**22 + 12345}))

    removed = remove_abandoned_folders(dataset)

    assert removed == [dead]
    assert live.temp.exists()


def test_latest_moves_by_replacing_the_link(tmp_path):
    for run_id in ("a", "b"):
        (tmp_path / run_id).mkdir()
        point_latest(tmp_path, run_id)

    assert os.readlink(tmp_path / LATEST) == "b"
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
