"""The tabular adapter: `rebalance.random_state` redraws the synthetic rows, nothing else."""

import hashlib

import polars as pl
import pytest

from rebalance.config import load_config
from rebalance.errors import SamplerError
from tasks.tabular.modality import MODALITY as TABULAR
from tests.helpers import loans_frame, split_without_prefect, write_config


def _run(folder, source, **overrides):
    config = load_config(source, overrides=[f"{key}={value}" for key, value in overrides.items()])
    run_dir = folder / "run"
    run_dir.mkdir(parents=True)
    ingested, _, splits = split_without_prefect(TABULAR, config, run_dir)
    resampled = TABULAR.rebalance(splits.train, ingested.columns, config, run_dir)
    holdouts = {
        name: hashlib.sha256((run_dir / f"{name}.parquet").read_bytes()).hexdigest()
        for name in ("val", "test")
    }
    return holdouts, resampled.frame


def test_random_state_redraws_synthetic_rows_without_moving_rows_between_splits(tmp_path):
    loans_frame(300).write_csv(tmp_path / "loans.csv")
    source = write_config(tmp_path, "loans.csv", rebalance={"sampler": "SMOTE"})

    default = _run(tmp_path / "default", source)
    same = _run(tmp_path / "same", source, **{"rebalance.random_state": 42})
    other = _run(tmp_path / "other", source, **{"rebalance.random_state": 7})

    synthetic = [frame.filter(pl.col("is_synthetic")) for _, frame in (default, same, other)]
    originals = [frame.filter(~pl.col("is_synthetic")) for _, frame in (default, same, other)]
    assert default[0] == same[0] == other[0]  # val and test, byte for byte
    assert originals[0].equals(originals[1]) and originals[0].equals(originals[2])
    assert synthetic[0].equals(synthetic[1])  # split.seed (42) is the default random_state
    assert synthetic[0].height == synthetic[2].height > 0
    assert not synthetic[0].drop("loan_id").equals(synthetic[2].drop("loan_id"))


def test_ignored_columns_vanish_and_declared_codes_reach_every_step(tmp_path):
    frame = loans_frame(300).with_columns(
        (pl.int_range(pl.len()) % 3 + 1).alias("branch"),  # codes 1-3, Int64
        pl.int_range(pl.len()).alias("exported_at"),  # a leaky running number
    )
    frame.write_csv(tmp_path / "loans.csv")
    source = write_config(
        tmp_path, "loans.csv", categorical_columns=["branch"], ignored_columns=["exported_at"]
    )
    config = load_config(source)
    run_dir = tmp_path / "run"
    run_dir.mkdir()

    ingested, _, splits = split_without_prefect(TABULAR, config, run_dir)
    resampled = TABULAR.rebalance(splits.train, ingested.columns, config, run_dir)

    assert ingested.columns.categorical == ("branch",)
    assert "exported_at" not in ingested.columns.features
    for name in ("train", "val", "test"):
        assert "exported_at" not in pl.read_parquet_schema(run_dir / f"{name}.parquet")
    assert resampled.sampler == "SMOTENC"
    assert resampled.categorical == ["education", "area", "branch"]
    synthetic = resampled.frame.filter(pl.col("is_synthetic"))
    assert synthetic.height > 0 and synthetic.schema["branch"] == pl.Int64
    assert set(synthetic["branch"]) <= {1, 2, 3}
    looks = [note for note in resampled.notes if "looks" in note]
    assert len(looks) == 1 and "'term' looks categorical" in looks[0]  # 180 or 360


def test_a_sampler_that_generates_numbers_refuses_declared_codes_before_any_data(tmp_path):
    source = write_config(
        tmp_path,
        "not-there-yet.csv",
        categorical_columns=["branch"],
        rebalance={"sampler": "BorderlineSMOTE"},
    )

    with pytest.raises(SamplerError, match="BorderlineSMOTE needs numeric features, but branch"):
        TABULAR.check_config(load_config(source))


def test_smote_takes_declared_codes_since_it_runs_as_smotenc(tmp_path):
    source = write_config(
        tmp_path,
        "not-there-yet.csv",
        categorical_columns=["branch"],
        rebalance={"sampler": "SMOTE"},
    )

    assert TABULAR.check_config(load_config(source)) == "SMOTE"
