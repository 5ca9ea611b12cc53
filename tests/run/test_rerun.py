"""An unchanged rerun reuses `latest`; any change to data, config or outputs runs again."""

import json
import os
from pathlib import Path

import pytest

from rebalance.cli import main
from rebalance.config import load_config, parse_config
from tasks.registry import modality_for
from tasks.run.manifest import file_hashes
from tasks.run.rerun import input_fingerprint, reusable_run
from tests.helpers import loans_frame, write_config
from tests.image_helpers import image_tree


def _fingerprint(config):
    return input_fingerprint(config, modality_for(config.modality))


@pytest.fixture
def table(tmp_path):
    loans_frame(150).write_csv(tmp_path / "d.csv")
    return tmp_path


def test_fingerprint_follows_the_data_and_the_config_but_not_retries_or_retention(table):
    config = load_config(write_config(table, "d.csv"))
    first = _fingerprint(config)

    assert _fingerprint(config) == first
    assert _fingerprint(config.model_copy(update={"retries": 5})) == first
    keep = config.retention.model_copy(update={"keep": 3})
    assert _fingerprint(config.model_copy(update={"retention": keep})) == first
    seed = config.split.model_copy(update={"seed": 7})
    assert _fingerprint(config.model_copy(update={"split": seed})) != first
    data = (table / "d.csv").read_bytes()
    (table / "d.csv").write_bytes(data.replace(b"Urban", b"Urbam", 1))
    assert _fingerprint(config) != first


def test_fingerprint_follows_the_expectation_suites_content_not_the_data_docs_retention(table):
    suite = table / "suite.json"
    suite.write_text(
        json.dumps(
            {"expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}
        )
    )
    config = load_config(
        write_config(table, "d.csv", validation={"expectation_suite": "suite.json"})
    )
    first = _fingerprint(config)
    keep = config.validation.model_copy(update={"data_docs_keep": 3})

    assert _fingerprint(config.model_copy(update={"validation": keep})) == first
    suite.write_text(
        json.dumps(
            {"expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "b"}}]}
        )
    )
    assert _fingerprint(config) != first


def test_a_cli_and_a_deployment_run_of_one_config_share_a_fingerprint(tmp_path, monkeypatch):
    from rebalance.deployments import config_parameters

    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / "data").mkdir()
    loans_frame(120).write_csv(project / "data" / "d.csv")
    suite = project / "data" / "suite.json"
    suite.write_text(json.dumps({"expectations": []}))
    config_file = write_config(
        project / "configs",
        "../data/d.csv",
        output="../out",
        validation={"expectation_suite": "../data/suite.json"},
    )
    absolute = _fingerprint(load_config(config_file))

    # From the project root: the config by a relative path, and as a deployment's parameter
    # (source relative to the root, where the deployment runs).
    monkeypatch.chdir(project)
    relative = _fingerprint(load_config("configs/config.yaml"))
    parameter = config_parameters("configs")["config"]
    assert parameter["source"] == "data/d.csv"
    deployed = _fingerprint(parse_config(parameter))
    # From another working directory.
    monkeypatch.chdir(tmp_path)
    elsewhere = _fingerprint(load_config("project/configs/config.yaml"))

    assert absolute is not None
    assert relative == deployed == elsewhere == absolute
    # The resolved path counts: the same bytes in another file are another source.
    (project / "data" / "e.csv").write_bytes((project / "data" / "d.csv").read_bytes())
    other = load_config(config_file, overrides=["source=../data/e.csv"])
    assert _fingerprint(other) != absolute


def test_a_missing_source_has_no_fingerprint_and_nothing_to_reuse(tmp_path):
    config = load_config(write_config(tmp_path, "nowhere.csv"))

    assert _fingerprint(config) is None
    assert reusable_run(config, None) is None


def test_image_fingerprint_changes_when_one_image_changes(tmp_path):
    root = image_tree(tmp_path / "pics", {"a": 4, "b": 2})
    config = parse_config(
        {"name": "p", "modality": "image", "source": str(root), "output": str(tmp_path / "o")}
    )
    first = _fingerprint(config)

    image = sorted((root / "b").iterdir())[0]
    image.write_bytes(image.read_bytes() + b"\0")

    assert _fingerprint(config) != first


@pytest.mark.flow
def test_unchanged_rerun_reuses_latest_and_a_changed_one_runs(
    prefect_harness, table, capsys, monkeypatch
):
    import prefect.events

    from tasks.run.ready import READY_EVENT

    config_path = write_config(table, "d.csv")
    dataset = table / "out" / "t"
    ready = []  # the ready events the runs emit (each publish emits one)
    emit = prefect.events.emit_event

    def recording(event, **kwargs):
        if event == READY_EVENT:
            ready.append(kwargs["payload"]["run_folder"])
        return emit(event, **kwargs)

    monkeypatch.setattr(prefect.events, "emit_event", recording)

    assert main(["run", str(config_path)]) == 0
    first = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["run", str(config_path)]) == 0
    out, err = capsys.readouterr()

    assert out.strip().splitlines()[-1] == first
    assert "unchanged since" in err and "--force" in err
    assert sorted(path.name for path in dataset.iterdir()) == sorted(
        [os.path.basename(first), "latest", "data_docs"]
    )

    # The flow itself reuses too (deployments run it without the CLI); force runs anyway.
    from flows.rebalance_flow import rebalance_dataset

    config = load_config(config_path)
    assert rebalance_dataset(config) == first
    forced = rebalance_dataset(config, force=True)
    assert forced != first
    assert os.path.realpath(dataset / "latest") == os.path.realpath(forced)

    # Someone edits the published output: it is no longer what the run wrote, so run again.
    # With retention.keep=1 (not part of the fingerprint) its publish deletes the first run
    # and keeps `forced`, what `rebalance rollback` would go back to.
    (Path(forced) / "val.parquet").write_bytes(b"edited")
    assert main(["run", str(config_path), "--set", "retention.keep=1"]) == 0
    rerun = capsys.readouterr().out.strip().splitlines()[-1]
    assert rerun not in (first, forced)
    manifest = json.loads(Path(rerun, "manifest.json").read_text())
    assert manifest["input_fingerprint"] == _fingerprint(config)
    on_disk = sorted(path.name for path in dataset.iterdir() if not path.name.startswith("."))
    assert on_disk == sorted(
        [os.path.basename(forced), os.path.basename(rerun), "latest", "data_docs"]
    )
    assert ready == [first, forced, rerun]

    # A trial of another sampler: a complete, verified run folder under trials/, while
    # `latest`, the published runs and the ready events stay as they were.
    trial_args = ["--no-publish", "--set", "rebalance.sampler=RandomOverSampler"]
    assert main(["run", str(config_path), *trial_args]) == 0
    out, err = capsys.readouterr()
    trial = Path(out.strip().splitlines()[-1])
    assert trial.parent == dataset / "trials"
    assert "not published" in err
    manifest = json.loads((trial / "manifest.json").read_text())
    assert manifest["published"] is False
    assert manifest["rebalance"]["sampler"] == "RandomOverSampler"
    assert file_hashes(trial) == manifest["files"]
    assert {"train.parquet", "val.parquet", "test.parquet", "report.md"} <= set(manifest["files"])
    assert "Trial run, not published" in (trial / "report.md").read_text()
    assert (trial / manifest["validation"]["data_docs"]).is_file()  # its link climbs one more
    assert os.path.realpath(dataset / "latest") == os.path.realpath(rerun)
    assert ready == [first, forced, rerun]
    on_disk = sorted(path.name for path in dataset.iterdir() if not path.name.startswith("."))
    assert on_disk == sorted(
        [os.path.basename(forced), os.path.basename(rerun), "latest", "data_docs", "trials"]
    )
    # The next unchanged run reuses `latest`, not the trial.
    assert main(["run", str(config_path)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(Path(rerun).resolve())


def test_the_code_fingerprint_covers_subpackages_and_templates(tmp_path):
    from tasks.run.rerun import CODE_ROOTS, code_sha256

    package = tmp_path / "tasks"
    (package / "images" / "templates").mkdir(parents=True)
    module = package / "images" / "augment.py"
    template = package / "images" / "templates" / "section.md.j2"
    module.write_text("X = 1\n")
    template.write_text("## {{ name }}\n")
    first = code_sha256([package])

    module.write_text("X = 2\n")
    second = code_sha256([package])
    template.write_text("## {{ name }}!\n")
    third = code_sha256([package])
    (package / "images" / "notes.txt").write_text("not code")

    assert len({first, second, third}) == 3
    assert code_sha256([package]) == third
    assert {root.name for root in CODE_ROOTS} == {"flows", "rebalance", "tasks", "validations"}
    assert all((root / "__init__.py").is_file() for root in CODE_ROOTS)
