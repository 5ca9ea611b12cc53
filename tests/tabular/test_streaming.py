"""Streamed tables (`streaming.enabled`): the same split and rows as in memory, in batches."""

import json
import tempfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from rebalance.config import StreamingConfig, load_config
from rebalance.errors import ConfigError, DataError
from tasks.core.columns import Columns
from tasks.core.frames import SPLIT_TRAIN_FILE
from tasks.tabular.modality import MODALITY as TABULAR
from tests.helpers import loans_frame, write_config
from validations.null_check import check_nulls, check_nulls_in_batches

# Small batches, so that every table below is read in several.
BATCH_ROWS = 250


def _hostile_loans() -> pl.DataFrame:
    """Label spaces, a 6-row class, a null to drop, duplicates within and across classes."""
    frame = loans_frame(600, seed=3)
    pending = frame.head(6).with_columns(
        pl.lit(" Pending ").alias("status"), pl.format("P{}", pl.col("loan_id")).alias("loan_id")
    )
    duplicates = frame.slice(10, 8).with_columns(
        pl.format("D{}", pl.col("loan_id")).alias("loan_id")
    )
    across = (
        frame.filter(pl.col("status") == "Rejected ")
        .head(3)
        .with_columns(
            pl.lit(" Approved").alias("status"),
            pl.format("X{}", pl.col("loan_id")).alias("loan_id"),
        )
    )
    frame = pl.concat([frame, pending, duplicates, across])
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("amount")).alias("amount")
    )


def _run(folder: Path, *, streaming: bool, sampler: str) -> Path:
    from flows.rebalance_flow import rebalance_dataset

    config = load_config(
        write_config(
            folder,
            "loans.csv",
            name="streamed" if streaming else "in-memory",
            validation={"null_policy": "drop"},
            rebalance={"sampler": sampler},
            streaming={"enabled": streaming, "batch_rows": BATCH_ROWS},
        )
    )
    return Path(rebalance_dataset(config))


@pytest.fixture(scope="module")
def loans_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("streaming")
    _hostile_loans().write_csv(folder / "loans.csv")
    return folder


def _read(run_dir: Path, split: str) -> pl.DataFrame:
    return pl.read_parquet(run_dir / f"{split}.parquet")


@pytest.mark.flow
@pytest.mark.parametrize("sampler", ["SMOTE", "RandomUnderSampler", "RandomOverSampler"])
def test_a_streamed_run_writes_the_rows_of_a_run_in_memory(prefect_harness, loans_csv, sampler):
    in_memory = _run(loans_csv, streaming=False, sampler=sampler)
    streamed = _run(loans_csv, streaming=True, sampler=sampler)

    for split in ("val", "test"):
        assert _read(streamed, split).equals(_read(in_memory, split))
    expected, got = _read(in_memory, "train"), _read(streamed, "train")
    originals = pl.col("is_synthetic").not_()
    assert got.filter(originals).equals(expected.filter(originals))
    # The copies an over-sampler adds come in training order when streamed.
    copies = [frame.filter(~originals).sort(pl.all()) for frame in (expected, got)]
    assert copies[1].equals(copies[0])
    if sampler != "RandomOverSampler":
        assert got.equals(expected)
    manifests = [json.loads((run / "manifest.json").read_text()) for run in (in_memory, streamed)]
    for key in ("rows", "counts", "class_weights"):
        assert manifests[1][key] == manifests[0][key]
    # The drift guard's profile, by streaming queries: the one of the same rows in memory.
    profiles = [json.loads((run / "profile.json").read_text()) for run in (in_memory, streamed)]
    assert profiles[1] == profiles[0]
    assert manifests[1]["rows"]["dropped"] == 1
    assert "Pending" in manifests[1]["counts"]["before"]["test"]
    assert not (streamed / SPLIT_TRAIN_FILE).exists()
    assert SPLIT_TRAIN_FILE not in manifests[1]["files"]
    # Great Expectations validated each batch of the 617 rows; result.json adds them up.
    result = json.loads((streamed / "validation" / "result.json").read_text())
    assert result["meta"]["batches"] == 3
    nulls = {
        item["expectation_config"]["kwargs"]["column"]: item["result"] for item in result["results"]
    }
    assert sum(counted["unexpected_count"] for counted in nulls.values()) == 1
    assert {counted["element_count"] for counted in nulls.values()} == {617}


def test_batched_null_check_counts_what_the_whole_frame_check_counts(tmp_path):
    frame = _hostile_loans().with_columns(
        pl.when(pl.int_range(pl.len()) % 50 == 0)
        .then(float("nan"))
        .otherwise("income")
        .alias("income")
    )
    columns = ["loan_id", "income", "amount", "status"]

    whole = check_nulls(frame, columns=columns, dataset="d", output_dir=tmp_path / "whole")
    batched = check_nulls_in_batches(
        frame.iter_slices(BATCH_ROWS), columns=columns, dataset="d", output_dir=tmp_path / "b"
    )

    assert (
        batched.null_counts
        == whole.null_counts
        == {"loan_id": 0, "income": 13, "amount": 1, "status": 0}
    )
    assert not batched.success
    assert json.loads(batched.result_path.read_text())["meta"]["batches"] == 3


def _config(folder: Path, batch_rows: int = 200, **overrides):
    return load_config(
        write_config(
            folder, "loans.csv", streaming={"enabled": True, "batch_rows": batch_rows}, **overrides
        )
    )


def test_a_streamed_table_is_read_lazily_and_checked_in_batches(tmp_path):
    _hostile_loans().write_csv(tmp_path / "loans.csv")
    config = _config(tmp_path, validation={"null_policy": "drop"})

    in_memory = config.model_copy(update={"streaming": StreamingConfig(enabled=False)})
    expected = TABULAR.validate(TABULAR.ingest(in_memory), in_memory, tmp_path / "whole")

    ingested = TABULAR.ingest(config)
    checked = TABULAR.validate(ingested, config, tmp_path / "validation")

    assert isinstance(ingested.frame, pl.LazyFrame)
    assert isinstance(checked.frame, pl.LazyFrame)
    assert ingested.rows_read == 617
    assert checked.rows_dropped == expected.rows_dropped == 1
    assert checked.null_counts == expected.null_counts
    assert checked.class_counts == expected.class_counts
    assert list(checked.class_counts) == ["Approved", "Pending", "Rejected"]
    assert checked.frame.collect().equals(expected.frame)


def test_a_bad_value_past_type_inference_in_a_streamed_csv_is_one_error_naming_the_file(
    tmp_path,
):
    rows = 100_050  # polars infers types from the first 100,000 rows
    frame = pl.DataFrame(
        {
            "loan_id": [f"L{i}" for i in range(rows)],
            "amount": np.arange(rows) % 7,
            "status": np.where(np.arange(rows) % 5 == 0, "Approved", "Rejected"),
        }
    )
    text = frame.write_csv().replace("L100020,", "L100020,1O", 1)
    (tmp_path / "loans.csv").write_text(text)
    # Two batches: Great Expectations takes ~0.2 s a batch whatever its size.
    config = _config(tmp_path, batch_rows=60_000)
    ingested = TABULAR.ingest(config)

    with pytest.raises(DataError, match=r"cannot read source .*loans.csv as csv"):
        TABULAR.validate(ingested, config, tmp_path / "validation")


def test_a_streamed_table_gets_the_same_column_and_label_errors(tmp_path):
    frame = loans_frame(50).with_columns(pl.col("income").alias("status"))
    frame.write_csv(tmp_path / "loans.csv")

    with pytest.raises(DataError, match=r"label column 'status' .* holds fractional numbers"):
        TABULAR.ingest(_config(tmp_path))
    # Caught when the config loads (the CSV's header is known then), in ingest's words.
    with pytest.raises(ConfigError, match="features column 'nope' is not in"):
        _config(tmp_path, features=["nope"])


def test_streamed_columns_keep_their_roles(tmp_path):
    loans_frame(50).write_csv(tmp_path / "loans.csv")

    ingested = TABULAR.ingest(_config(tmp_path))

    assert ingested.columns == Columns(
        label="status",
        features=("income", "amount", "term", "education", "area"),
        id_column="loan_id",
    )
    assert ingested.frame.collect()["status"].unique().sort().to_list() == [
        "Approved",
        "Rejected",
    ]


@pytest.mark.flow
def test_a_forced_streamed_rerun_writes_byte_identical_files(prefect_harness, loans_csv):
    from flows.rebalance_flow import rebalance_dataset

    config = load_config(
        write_config(
            loans_csv,
            "loans.csv",
            name="streamed-twice",
            validation={"null_policy": "drop"},
            rebalance={"sampler": "RandomOverSampler"},
            streaming={"enabled": True, "batch_rows": BATCH_ROWS},
        )
    )
    first = Path(rebalance_dataset(config))
    second = Path(rebalance_dataset(config, force=True))

    assert first != second
    for name in ("train.parquet", "val.parquet", "test.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_validate_command_streams_and_leaves_no_scratch_file(tmp_path, monkeypatch):
    from rebalance.cli import validate

    _hostile_loans().write_csv(tmp_path / "loans.csv")
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_root))

    summary = validate(_config(tmp_path, validation={"null_policy": "drop"}))

    assert "classes: {'Approved': " in summary
    assert "samples dropped: 1" in summary
    assert summary.splitlines()[-1] == "valid"
    assert list(scratch_root.iterdir()) == []
