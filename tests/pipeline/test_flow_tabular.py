"""The whole flow on small tables, under one session-wide Prefect test server."""

import base64
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rebalance.cli import main
from rebalance.config import load_config
from tasks.run.hashsplit import assign_hash_splits, bands
from tasks.run.keyhash import key_hash
from tasks.tabular.modality import MODALITY as TABULAR
from tests.helpers import loans_frame, write_config

pytestmark = pytest.mark.flow


@pytest.fixture(scope="module")
def loans_run(prefect_harness, tmp_path_factory):
    """One SMOTE run on a mixed table with stray label spaces and a null to drop, with the
    cross-validated evaluation (one repeat of 5 folds)."""
    from flows.rebalance_flow import rebalance_dataset

    folder = tmp_path_factory.mktemp("loans")
    frame = loans_frame(400).with_columns(
        pl.when(pl.int_range(pl.len()) == 7).then(None).otherwise(pl.col("income")).alias("income")
    )
    frame.write_csv(folder / "loans.csv")
    config = load_config(
        write_config(
            folder,
            "loans.csv",
            validation={
                "null_policy": "drop",
                "expectations": [
                    {
                        "expectation": "expect_column_values_to_be_unique",
                        "kwargs": {"column": "loan_id"},
                    },
                    {
                        "expectation": "ExpectColumnMaxToBeBetween",
                        "kwargs": {"column": "amount", "max_value": 100},
                        "severity": "warn",
                    },
                ],
            },
            evaluate={"n_repeats": 1},
            retries=1,
        )
    )
    run_dir = rebalance_dataset(config)
    return frame, config, os.fspath(run_dir)


def _manifest(run_dir):
    return json.loads(Path(run_dir, "manifest.json").read_text())


def _read(run_dir, name):
    return pl.read_parquet(os.path.join(run_dir, f"{name}.parquet"))


def test_val_and_test_are_untouched_originals(loans_run):
    frame, _, run_dir = loans_run
    originals = frame.with_columns(pl.col("status").str.strip_chars())

    for name in ("val", "test"):
        part = _read(run_dir, name)
        assert "is_synthetic" not in part.columns
        assert part.join(originals, on=part.columns, how="anti").height == 0


def test_train_originals_plus_val_plus_test_are_the_input_minus_dropped_rows(loans_run):
    frame, _, run_dir = loans_run
    expected = frame.with_columns(pl.col("status").str.strip_chars()).drop_nulls()
    train = _read(run_dir, "train")
    originals = train.filter(~pl.col("is_synthetic")).drop("is_synthetic")

    rebuilt = pl.concat([originals, _read(run_dir, "val"), _read(run_dir, "test")])

    assert rebuilt.sort("loan_id").equals(expected.sort("loan_id"))
    manifest = _manifest(run_dir)
    assert manifest["rows"]["dropped"] == 1
    assert manifest["rows"]["read"] == 400


def test_smote_auto_balances_train_and_keeps_seen_categories(loans_run):
    _, _, run_dir = loans_run
    train = _read(run_dir, "train")
    originals = train.filter(~pl.col("is_synthetic"))

    counts = train["status"].value_counts()["count"].to_list()
    assert counts[0] == counts[1]
    for column in ("education", "area"):
        assert set(train[column]) <= set(originals[column])


def test_manifest_lists_counts_weights_hashes_and_timings(loans_run):
    _, _, run_dir = loans_run
    manifest = _manifest(run_dir)

    assert set(manifest["counts"]["before"]) == {"train", "val", "test"}
    assert (
        manifest["counts"]["after"]["train"]["Approved"]
        == manifest["counts"]["after"]["train"]["Rejected"]
    )
    assert manifest["rebalance"]["sampler"] == "SMOTENC"
    weights = manifest["class_weights"]
    before = manifest["counts"]["before"]["train"]
    assert weights["classes"] == ["Approved", "Rejected"]
    assert weights["before_rebalancing"]["counts"] == [before["Approved"], before["Rejected"]]
    assert weights["before_rebalancing"]["balanced"]["by_label"]["Approved"] > 1
    # SMOTENC balanced train.parquet: nothing left to make up for.
    assert weights["as_published"]["balanced"]["by_label"] == {"Approved": 1.0, "Rejected": 1.0}
    written = json.loads(Path(run_dir, "class_weights.json").read_text())
    assert written["as_published"]["effective_number"]["ordered"] == [1.0, 1.0]
    # Numeric columns make a synthetic row equal to a real one of the other class unlikely.
    assert manifest["rebalance"]["conflicts"]["found"] == 0
    assert "0 found, 0 replaced, 0 dropped" in Path(run_dir, "report.md").read_text()
    assert {"ingest", "validate", "split", "rebalance"} <= set(manifest["timings_seconds"])
    for relative, digest in manifest["files"].items():
        data = Path(run_dir, relative).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
    assert {
        "train.parquet",
        "val.parquet",
        "test.parquet",
        "report.md",
        "balance.png",
        "class_weights.json",
    } <= set(manifest["files"])
    assert "validation/result.json" in manifest["files"]
    # Data Docs live once per dataset, beside the run folders, not in each of them.
    assert not any(name.startswith("validation/data_docs") for name in manifest["files"])
    assert Path(run_dir, manifest["validation"]["data_docs_page"]).is_file()
    index = Path(run_dir, manifest["validation"]["data_docs"]).read_text()
    assert Path(run_dir).name in index


def test_expectations_are_reported_and_the_dropped_null_does_not_fail_data_docs(loans_run):
    frame, _, run_dir = loans_run
    manifest = _manifest(run_dir)
    report = Path(run_dir, "report.md").read_text()
    result = json.loads(Path(run_dir, "validation", "result.json").read_text())
    site = Path(run_dir).parent / "data_docs"

    found = manifest["validation"]["expectations"]
    assert [(item["expectation"], item["status"]) for item in found] == [
        ("ExpectColumnValuesToBeUnique", "passed"),
        ("ExpectColumnMaxToBeBetween", "warning"),
    ]
    assert found[1]["observed"] == f"observed value {frame['amount'].max()}"
    assert "## Expectations" in report
    assert "| ExpectColumnMaxToBeBetween |" in report
    # The null of `income` was dropped by policy: GX shows it, and passes it.
    (income,) = [
        item
        for item in result["results"]
        if item["expectation_config"]["type"] == "expect_column_values_to_not_be_null"
        and item["expectation_config"]["kwargs"]["column"] == "income"
    ]
    assert income["success"] is True
    assert income["result"]["unexpected_count"] == 1
    runs = json.loads((site / "runs.json").read_text())
    assert runs[0]["run_id"] == Path(run_dir).name
    assert runs[0]["status"] == "Passed with warnings"


def test_the_evaluation_compares_the_arms_on_train_folds_in_manifest_and_report(loans_run):
    _, _, run_dir = loans_run
    manifest = _manifest(run_dir)
    entry = manifest["evaluation"]
    report = Path(run_dir, "report.md").read_text()

    assert entry["arms"] == ["no resampling", "class weights", "SMOTE"]
    assert entry["published_arm"] == "SMOTE"
    # Only the training split's original rows: 280 of the 399 kept rows.
    assert entry["rows"]["available"] == manifest["rows"]["train"]
    assert entry["folds"]["total"] == 5
    verdicts = {
        (result["arm"], result["model"]): result["verdict"]
        for result in entry["results"]
        if result["arm"] != "no resampling"
    }
    assert len(verdicts) == 4
    assert set(verdicts.values()) <= {"helps", "hurts", "mixed", "cannot tell at this data size"}
    assert "evaluate" in manifest["timings_seconds"]
    assert "evaluation.png" in manifest["files"]
    assert "![cross-validated scores per arm, mean ± std](evaluation.png)" in report


def test_the_manifest_and_report_count_the_row_dropped_for_its_null(loans_run):
    _, _, run_dir = loans_run
    validation = _manifest(run_dir)["validation"]
    report = Path(run_dir, "report.md").read_text()

    assert validation["null_counts"]["income"] == 1
    assert (validation["rows_dropped_for_nulls"], validation["max_drop_fraction"]) == (1, 0.2)
    assert "| income | 1 | 400 | 0.2% |" in report
    assert "dropped 1 of the 400 rows read (0.2%, within" in report


def test_the_run_publishes_a_balance_report_and_a_counts_table_artifact(loans_run):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    _, _, run_dir = loans_run
    flow_run_id = _manifest(run_dir)["prefect"]["flow_run_id"]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["t-balance", "t-counts"]))
        )

    mine = {a.key: a for a in artifacts if str(a.flow_run_id) == flow_run_id}
    assert set(mine) == {"t-balance", "t-counts"}
    markdown = mine["t-balance"].data
    assert "| Approved |" in markdown
    charts = [part.split(")")[0] for part in markdown.split("](data:image/png;base64,")[1:]]
    assert len(charts) == 2  # the balance chart and the evaluation's
    assert all(base64.b64decode(chart).startswith(b"\x89PNG") for chart in charts)
    assert "## Does rebalancing help? Cross-validated estimate" in markdown
    assert "SMOTENC" in markdown and "effective number" in markdown
    table = (
        json.loads(mine["t-counts"].data)
        if isinstance(mine["t-counts"].data, str)
        else (mine["t-counts"].data)
    )
    assert {row["class"] for row in table} == {"Approved", "Rejected"}


def test_latest_points_at_the_run(loans_run):
    _, config, run_dir = loans_run

    assert os.path.realpath(config.dataset_dir / "latest") == os.path.realpath(run_dir)


def test_same_seed_gives_byte_identical_outputs(loans_run):
    from flows.rebalance_flow import rebalance_dataset

    _, config, run_dir = loans_run
    again = rebalance_dataset(config, force=True)

    first = _manifest(run_dir)["files"]
    second = _manifest(again)["files"]
    for name in ("train.parquet", "val.parquet", "test.parquet", "balance.png", "evaluation.png"):
        assert first[name] == second[name], name


BAD_INPUTS = [
    ("missing file", lambda folder: None, {}, "source file not found"),
    ("empty file", lambda folder: (folder / "d.csv").write_bytes(b""), {}, "is empty"),
    (
        "unreadable file",
        lambda folder: (folder / "d.parquet").write_bytes(b"PAR1 not really parquet"),
        {"source": "d.parquet"},
        r"cannot read source .*d\.parquet as parquet",
    ),
    (
        "missing label",
        lambda folder: loans_frame(50).write_csv(folder / "d.csv"),
        {"label": "Status"},
        "label column 'Status' is not in",
    ),
    (
        "one class",
        lambda folder: loans_frame(50, minority=0).write_csv(folder / "d.csv"),
        {},
        "has a single class",
    ),
    (
        "nulls under fail",
        lambda folder: (
            loans_frame(50)
            .with_columns(
                pl.when(pl.col("amount") > 300).then(None).otherwise("area").alias("area")
            )
            .write_csv(folder / "d.csv")
        ),
        {},
        r"null values in 'area' \(\d+\).*null_policy: drop",
    ),
    (
        "class too small",
        lambda folder: (
            loans_frame(50)
            .with_columns(
                pl.when(pl.int_range(pl.len()) < 2)
                .then(pl.lit("Rare"))
                .otherwise("status")
                .alias("status")
            )
            .write_csv(folder / "d.csv")
        ),
        {},
        r"class 'Rare' \(2 rows\).*too small",
    ),
    (
        "unknown sampler",
        lambda folder: loans_frame(50).write_csv(folder / "d.csv"),
        {"rebalance": {"sampler": "SMOOTE"}},
        "unknown sampler 'SMOOTE'",
    ),
    (
        "bad sampler params",
        lambda folder: loans_frame(50).write_csv(folder / "d.csv"),
        {"rebalance": {"sampler": "SMOTE", "params": {"k_neighbors": 0}}},
        "'k_neighbors' parameter of SMOTE",
    ),
]


@pytest.mark.parametrize(
    ("setup", "overrides", "expected"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_gets_one_clear_line_and_leaves_no_run_folder(
    prefect_harness, tmp_path, capsys, setup, overrides, expected
):
    import re

    setup(tmp_path)
    config_path = write_config(tmp_path, overrides.pop("source", "d.csv"), **overrides)

    status = main(["run", str(config_path)])

    stderr = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert re.search(expected, stderr[-1]), stderr[-1]
    assert stderr[-1].startswith("rebalance: ")
    out = tmp_path / "out"
    # No run folder; the dataset's Data Docs may list a validation that stopped the run.
    assert (
        not out.exists()
        or [p for p in out.rglob("*") if p.is_file() and "data_docs" not in p.parts] == []
    )


def test_a_failed_run_keeps_latest_on_the_previous_good_run(prefect_harness, tmp_path, capsys):
    loans_frame(120).write_csv(tmp_path / "d.csv")
    config_path = write_config(tmp_path, "d.csv")
    assert main(["run", str(config_path)]) == 0
    good = capsys.readouterr().out.strip().splitlines()[-1]

    (tmp_path / "d.csv").write_text("loan_id,status\n")
    assert main(["run", str(config_path)]) == 1

    dataset = tmp_path / "out" / "t"
    assert os.path.realpath(dataset / "latest") == os.path.realpath(good)
    assert sorted(path.name for path in dataset.iterdir()) == sorted(
        [os.path.basename(good), "latest", "data_docs"]
    )


def test_a_night_whose_priors_moved_fails_naming_the_drift_and_keeps_latest(
    prefect_harness, tmp_path, capsys
):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    loans_frame(200).write_csv(tmp_path / "d.csv")
    config_path = write_config(tmp_path, "d.csv")
    assert main(["run", str(config_path)]) == 0
    first = Path(capsys.readouterr().out.strip().splitlines()[-1])
    manifest = _manifest(first)
    assert manifest["drift"]["baseline"] is None
    assert manifest["drift"]["status"] == "not compared"
    assert manifest["drift"]["profile"] in manifest["files"]
    assert "## Drift\n\nNo run is published yet" in (first / "report.md").read_text()

    # The next night a third of the rows are approved, not an eighth.
    loans_frame(200, seed=1, minority=0.35).write_csv(tmp_path / "d.csv")
    assert main(["run", str(config_path)]) == 1

    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(
        f"rebalance: drift since run {first.name}: the priors of label 'status' moved: "
        "class 'Approved' was "
    )
    assert last.endswith(
        "if the change is expected, raise drift.class_priors.threshold (now 0.1) or set "
        "drift.class_priors.severity: warn"
    )
    dataset = tmp_path / "out" / "t"
    assert os.path.realpath(dataset / "latest") == os.path.realpath(first)
    assert sorted(path.name for path in dataset.iterdir()) == sorted(
        [first.name, "latest", "data_docs"]
    )
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["t-drift"]))
        )
    drifts = [a.data for a in artifacts if f"## Drift since {first.name}" in a.data]
    assert len(drifts) == 1
    assert "| `drift.class_priors` | class 'Approved' |" in drifts[0]


def test_a_hash_split_keeps_old_rows_and_latest_pins_on_a_night_with_ten_percent_more_rows(
    prefect_harness, tmp_path
):
    from flows.rebalance_flow import rebalance_dataset

    rare = pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("Rare")).otherwise("status")
    old = loans_frame(150).with_columns(rare.alias("status"))
    pool = loans_frame(100, seed=1).with_columns(
        ("N" + pl.col("loan_id")).alias("loan_id"), pl.lit("Rare").alias("status")
    )
    pl.concat([old, pool]).write_csv(tmp_path / "loans.csv")
    config = load_config(write_config(tmp_path, "loans.csv", split={"method": "hash"}))
    ingested = TABULAR.ingest(config)
    keys = key_hash(TABULAR.hash_keys(ingested.frame, ingested.columns, config))
    fractions = config.split.fractions
    # A seed whose bands leave the 5 old Rare rows without val or test: one is pinned there.
    seed = next(
        seed
        for seed in range(100)
        if assign_hash_splits(
            ingested.frame["status"][:150], keys[:150], fractions=fractions, seed=seed
        ).pinned
    )
    # Tonight two new Rare rows fall in val and in test by their own hash: the pins are no
    # longer needed, and the second run keeps them only because it reads them from latest.
    band = bands(keys[150:], fractions=fractions, seed=seed)
    chosen = [int(np.flatnonzero(band == 1)[0]), int(np.flatnonzero(band == 2)[0])]
    others = loans_frame(13, seed=2).with_columns(("M" + pl.col("loan_id")).alias("loan_id"))
    new = pl.concat([pool[chosen], others])
    old.write_csv(tmp_path / "loans.csv")
    config_path = write_config(
        tmp_path,
        "loans.csv",
        split={"method": "hash", "seed": seed},
        rebalance={"sampler": "RandomOverSampler"},
    )

    first = rebalance_dataset(load_config(config_path))
    pl.concat([old, new]).write_csv(tmp_path / "loans.csv")
    second = rebalance_dataset(load_config(config_path))

    def splits(run_dir):
        train = pl.read_parquet(Path(run_dir, "train.parquet")).filter(~pl.col("is_synthetic"))
        parts = {"train": train, "val": _read(run_dir, "val"), "test": _read(run_dir, "test")}
        return {loan: name for name, part in parts.items() for loan in part["loan_id"].to_list()}

    before, after = splits(first), splits(second)
    assert len(before) == 150 and len(after) == 165
    assert {loan: after[loan] for loan in before} == before
    pinned = _manifest(first)["split"]["pinned"]
    assert pinned and _manifest(second)["split"]["method"] == "hash"
    assert _manifest(second)["split"]["pinned"].items() >= pinned.items()
