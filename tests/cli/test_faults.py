"""Injected faults: retried transient ones, permanent ones, a full disk, and SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rebalance.cli import main
from tests.helpers import loans_frame, prefect_console_to_this_stderr, write_config

pytestmark = pytest.mark.flow


@pytest.fixture
def dataset(tmp_path):
    loans_frame(150).write_csv(tmp_path / "d.csv")
    return tmp_path


def _files(run_dir: str) -> dict[str, str]:
    return json.loads(Path(run_dir, "manifest.json").read_text())["files"]


def _run(config, capsys, monkeypatch, faults=None) -> tuple[int, str, str]:
    if faults:
        monkeypatch.setenv("REBALANCE_FAULTS", faults)
    from rebalance import faults as fault_module

    fault_module._fired.clear()
    prefect_console_to_this_stderr()
    status = main(["run", str(config), "--force"])
    monkeypatch.delenv("REBALANCE_FAULTS", raising=False)
    out, err = capsys.readouterr()
    return status, out.strip().splitlines()[-1] if out.strip() else "", err


def test_transient_faults_are_retried_and_change_nothing(
    prefect_harness, dataset, capsys, monkeypatch
):
    config = write_config(dataset, "d.csv", retries=2, retry_delay_seconds=0)
    status, undisturbed, _ = _run(config, capsys, monkeypatch)
    assert status == 0

    status, disturbed, err = _run(config, capsys, monkeypatch, "split:transient:2,report:transient")

    assert status == 0, err
    assert disturbed != undisturbed
    for name in ("train.parquet", "val.parquet", "test.parquet", "balance.png"):
        assert _files(disturbed)[name] == _files(undisturbed)[name]
    from rebalance import faults

    # Each injection point fired once per attempt: two failed splits, one failed report.
    assert faults._fired["split"] == 3
    assert faults._fired["report"] == 2


def test_a_permanent_fault_fails_the_run_naming_the_step(
    prefect_harness, dataset, capsys, monkeypatch
):
    config = write_config(dataset, "d.csv", retries=1, retry_delay_seconds=0)

    status, _, err = _run(config, capsys, monkeypatch, "rebalance:permanent")

    assert status == 1
    assert err.strip().splitlines()[-1].startswith("rebalance: step 'rebalance' failed:")
    # Nothing is published; only the dataset's Data Docs keep the validation that passed.
    left = [path for path in (dataset / "out").rglob("*") if "data_docs" not in path.parts]
    assert [path.relative_to(dataset) for path in left] == [Path("out/t")]


def test_a_full_disk_fails_cleanly_and_keeps_latest(prefect_harness, dataset, capsys, monkeypatch):
    config = write_config(dataset, "d.csv", retries=0)
    status, good, _ = _run(config, capsys, monkeypatch)
    assert status == 0

    # The Data Docs site fails first (a warning: the run goes on), then the report step.
    status, _, err = _run(config, capsys, monkeypatch, "data-docs:enospc,report:enospc")

    assert status == 1
    last = err.strip().splitlines()[-1]
    assert "step 'report' failed: no space left on device" in last
    assert "`latest` is unchanged" in last
    # The Data Docs failure was a warning: it fired, and the run went on to the report.
    from rebalance import faults

    assert faults._fired["data-docs"] == 1
    assert "Data Docs of t not updated: [Errno 28] No space left on device" in err
    assert "Traceback" not in err
    assert err.lower().count("no space left on device (injected at report)") == 1, err
    dataset_dir = dataset / "out" / "t"
    assert sorted(p.name for p in dataset_dir.iterdir()) == sorted(
        [Path(good).name, "latest", "data_docs"]
    )
    assert os.path.realpath(dataset_dir / "latest") == os.path.realpath(good)


@pytest.mark.slow
def test_sigkill_at_any_step_leaves_latest_on_the_last_good_run(prefect_harness, dataset):
    from prefect.settings import PREFECT_API_URL

    config = write_config(dataset, "d.csv", retries=0)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}

    def cli(faults=None):
        run_env = {**env, "REBALANCE_FAULTS": faults} if faults else env
        return subprocess.run(
            [sys.executable, "-m", "rebalance.cli", "run", str(config), "--force"],
            env=run_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    first = cli()
    assert first.returncode == 0, first.stderr[-2000:]
    good = Path(first.stdout.strip().splitlines()[-1])
    dataset_dir = dataset / "out" / "t"

    for point in ("ingest", "rebalance", "report", "verify", "latest"):
        killed = cli(f"{point}:kill")

        assert killed.returncode == -signal.SIGKILL, point
        assert os.path.realpath(dataset_dir / "latest") == os.path.realpath(good), point
        for folder in dataset_dir.iterdir():
            # Besides runs: `latest` and the dataset's Data Docs site.
            if not folder.name.startswith(".") and folder.name not in ("latest", "data_docs"):
                assert (folder / "manifest.json").is_file(), (point, folder)

    after = cli()

    assert after.returncode == 0, after.stderr[-2000:]
    newest = Path(after.stdout.strip().splitlines()[-1])
    assert os.path.realpath(dataset_dir / "latest") == os.path.realpath(newest)
    assert [p.name for p in dataset_dir.iterdir() if p.name.startswith(".tmp-")] == []


@pytest.mark.slow
def test_two_runs_at_once_publish_two_complete_folders(prefect_harness, dataset):
    from prefect.settings import PREFECT_API_URL

    config = write_config(dataset, "d.csv", retries=0)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    command = [sys.executable, "-m", "rebalance.cli", "run", str(config), "--force"]

    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in "ab"]
    folders = [Path(run.communicate(timeout=300)[0].strip().splitlines()[-1]) for run in runs]

    assert [run.returncode for run in runs] == [0, 0]
    assert folders[0] != folders[1]
    for folder in folders:
        assert set(_files(str(folder))) >= {"train.parquet", "val.parquet", "test.parquet"}
    assert os.path.realpath(dataset / "out" / "t" / "latest") in {
        os.path.realpath(folder) for folder in folders
    }


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["image", "text"])
def test_sigkill_in_the_middle_of_augmentation_or_translation(
    prefect_harness, marian_template, tmp_path, modality
):
    """Killed after some images are written (or some batches translated, with their cache
    entries flushed): latest stays on the good run, and the next run completes."""
    from prefect.settings import PREFECT_API_URL

    config = _mid_work_config(tmp_path, modality, marian_template)
    point = {"image": "augment-image:kill:4", "text": "translate-batch:kill:3"}[modality]
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    command = [sys.executable, "-m", "rebalance.cli", "run", str(config), "--force"]

    def cli(faults=None):
        run_env = {**env, "REBALANCE_FAULTS": faults} if faults else env
        return subprocess.run(
            command, env=run_env, capture_output=True, text=True, timeout=300, check=False
        )

    first = cli()
    assert first.returncode == 0, first.stderr[-2000:]
    good = Path(first.stdout.strip().splitlines()[-1])
    dataset_dir = good.parent

    # The first run filled the translation cache; without it the killed run translates.
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
    killed = cli(point)

    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert os.path.realpath(dataset_dir / "latest") == os.path.realpath(good)
    temp = [path for path in dataset_dir.iterdir() if path.name.startswith(".tmp-")]
    assert temp and not any((path / "manifest.json").exists() for path in temp)

    after = cli()

    assert after.returncode == 0, after.stderr[-2000:]
    newest = Path(after.stdout.strip().splitlines()[-1])
    assert os.path.realpath(dataset_dir / "latest") == os.path.realpath(newest)
    assert [p.name for p in dataset_dir.iterdir() if p.name.startswith(".tmp-")] == []
    for name in ("train.parquet", "val.parquet", "test.parquet"):
        assert _files(str(newest))[name] == _files(str(good))[name], name


def _mid_work_config(folder: Path, modality: str, marian_template: str) -> Path:
    import yaml

    from tests.image_helpers import image_tree

    config = {"name": "m", "output": str(folder / "out"), "retries": 0, "modality": modality}
    if modality == "image":
        image_tree(folder / "pics", {"many": 12, "few": 3}, kinds=("L", "RGB"))
        config |= {"source": str(folder / "pics"), "rebalance": {"shard_size": 2}}
    else:
        rows = [{"id": f"a{i}", "text": f"order {i} has not arrived", "y": "a"} for i in range(24)]
        rows += [
            {"id": f"b{i}", "text": f"refund for order {i} please", "y": "b"} for i in range(6)
        ]
        (folder / "t.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
        config |= {
            "source": str(folder / "t.jsonl"),
            "label": "y",
            "id_column": "id",
            "rebalance": {
                "model": marian_template,
                "target": 16,
                "batch_size": 2,
                "max_new_tokens": 6,
                "num_threads": 1,
                "do_sample": False,
                "min_length_ratio": 0.0,
                "max_length_ratio": 1000.0,
                "cache_dir": str(folder / "cache"),
            },
        }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
