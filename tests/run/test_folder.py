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


def test_a_trial_run_lands_under_trials_and_no_published_run_machinery_sees_it(tmp_path):
    from tasks.run.listing import list_runs, render_runs, trial_runs
    from tasks.run.manifest import write_manifest
    from tasks.run.retention import prune_runs
    from tasks.run.rollback import published_runs

    dataset = tmp_path / "d"
    runs = ["20261030T000000Z-000000", "20261101T000000Z-aaaaaa", "20261102T000000Z-bbbbbb"]
    for run_id in runs:
        good = open_run_folder(dataset, run_id=run_id)
        write_manifest({"run_id": run_id}, good.temp)
        publish_run_folder(good)
    trial = open_run_folder(dataset, run_id="20261103T000000Z-cccccc", trial=True)
    # Beside the published runs while it writes, so retention waits for it.
    assert trial.temp.parent == dataset
    write_manifest({"run_id": trial.run_id, "published": False}, trial.temp)

    final = publish_run_folder(trial)

    assert final == dataset / "trials" / "20261103T000000Z-cccccc"
    assert (final / "manifest.json").is_file() and not trial.temp.exists()
    assert os.readlink(dataset / LATEST) == "20261102T000000Z-bbbbbb"
    assert published_runs(dataset) == runs
    assert [run.run_id for run in list_runs(dataset)] == runs[::-1]
    assert trial_runs(dataset) == [trial.run_id]
    listed = render_runs(list_runs(dataset), dataset_dir=dataset, trials=1).splitlines()
    assert len(listed) == 1 + len(runs) + 1  # header, the published runs, the footer
    assert listed[-1].endswith(f"; 1 trial runs, not published, in {dataset / 'trials'}")
    # Retention keeps `latest` and the run before it, deletes the oldest, and no trial.
    pruned = prune_runs(dataset, keep=1)
    assert pruned.deleted == [runs[0]] and final.is_dir()
