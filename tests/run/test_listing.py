"""`rebalance runs` lists the published runs, newest first, from their manifests alone."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rebalance.cli import main
from tasks.run.folder import point_latest
from tasks.run.listing import list_runs, summarize
from tasks.run.manifest import write_manifest
from tests.helpers import write_config

ROOT = Path(__file__).resolve().parents[2]
FIRST, SECOND, THIRD = (
    "20261101T020000Z-aaaaaa",
    "20261102T020000Z-bbbbbb",
    "20261103T020000Z-cccccc",
)


def _manifest(run_id: str, train: int, **extra) -> dict:
    return {
        "run_id": run_id,
        "started_at": f"2026-11-0{run_id[7]}T02:00:00+00:00",
        "finished_at": f"2026-11-0{run_id[7]}T02:00:41+00:00",
        "rows": {"read": train + 60, "dropped": 0, "train": train, "val": 30, "test": 30}
        | {"train_after": 2 * train},
        "validation": {"null_policy": "fail"},
        "rebalance": {"requested": "SMOTE", "sampler": "SMOTENC"},
        **extra,
    }


@pytest.fixture
def dataset(tmp_path):
    dataset = tmp_path / "out" / "t"
    manifests = [
        _manifest(FIRST, 100),
        _manifest(
            SECOND,
            110,
            rows={"dropped": 4, "train": 110, "val": 31, "test": 32, "train_after": 220},
        ),
        _manifest(
            THIRD,
            121,
            rebalance={"requested": "auto", "sampler": "RandomOverSampler"},
            drift={"status": "warn", "findings": [{"check": "row_count"}]},
        ),
    ]
    for manifest in manifests:
        folder = dataset / manifest["run_id"]
        folder.mkdir(parents=True)
        write_manifest(manifest, folder)
    point_latest(dataset, SECOND)  # rolled back from the third run
    (dataset / ".tmp-20261104T020000Z-dddddd").mkdir()  # a run in progress: not listed
    return dataset


def test_runs_are_listed_newest_first_with_latest_marked(dataset):
    runs = list_runs(dataset)

    assert [run.run_id for run in runs] == [THIRD, SECOND, FIRST]
    assert [run.latest for run in runs] == [False, True, False]
    assert runs[0].rows == {"train": 121, "train_after": 242, "val": 30, "test": 30}
    assert runs[0].sampler == "auto → RandomOverSampler"
    assert runs[0].drift == "warn"
    assert runs[1].validation == "passed, 4 dropped"
    assert runs[2].drift == "-"  # no drift entry: not compared with an earlier run


def test_cli_prints_a_table_with_one_row_per_run(dataset, tmp_path, capsys):
    config = write_config(tmp_path, "d.csv")

    assert main(["runs", str(config)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "run",
        "finished",
        "(UTC)",
        "train",
        "→",
        "published",
        "val",
        "test",
        "sampler",
        "validation",
        "drift",
    ]
    assert lines[1].split() == [
        THIRD,
        "2026-11-03",
        "02:00:41",
        "121",
        "→",
        "242",
        "30",
        "30",
        "auto",
        "→",
        "RandomOverSampler",
        "passed",
        "warn",
    ]
    assert lines[2].startswith(f"*  {SECOND}")
    assert "passed, 4 dropped" in lines[2]
    assert lines[3].split()[0] == FIRST
    assert lines[4] == f"3 runs in {dataset}; * is `latest`"


def test_cli_json_lists_the_same_runs(dataset, tmp_path, capsys):
    config = write_config(tmp_path, "d.csv")

    assert main(["runs", str(config), "--json"]) == 0

    listed = json.loads(capsys.readouterr().out)
    assert [(run["run_id"], run["latest"]) for run in listed] == [
        (THIRD, False),
        (SECOND, True),
        (FIRST, False),
    ]
    assert listed[2]["rows"]["train_after"] == 200


def test_a_damaged_manifest_is_a_row_that_says_so(dataset):
    (dataset / FIRST / "manifest.json").write_text("{half", encoding="utf-8")

    (oldest,) = [run for run in list_runs(dataset) if run.run_id == FIRST]

    assert oldest.validation == "manifest.json unreadable"
    assert summarize(FIRST, {}, latest=False).validation == "passed"


def test_a_dataset_without_runs_says_so(tmp_path, capsys):
    config = write_config(tmp_path, "d.csv")

    assert main(["runs", str(config)]) == 0

    assert capsys.readouterr().out.startswith("no published runs in ")


def test_listing_imports_no_prefect(dataset, tmp_path):
    config = write_config(tmp_path, "d.csv")
    script = (
        "import sys\nfrom rebalance.cli import main\n"
        f"assert main(['runs', {str(config)!r}]) == 0\n"
        "print(sorted(name for name in ('prefect', 'great_expectations', 'sklearn') "
        "if name in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert done.stdout.splitlines()[-1] == "[]"
