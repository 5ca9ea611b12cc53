"""The evaluate step on a table: arms built from the config, `auto`'s pick reaching the
rebalance step, and a stratified sample of a large (or streamed) training split."""

import numpy as np
import polars as pl
import pytest

from rebalance.config import parse_config
from tasks.core.columns import Columns
from tasks.tabular.arms import OneHotSampler, _stratified_rows, evaluate_table
from tasks.tabular.modality import MODALITY
from tests.helpers import loans_frame

COLUMNS = Columns(label="status", features=("income", "amount", "term", "education", "area"))


def _train() -> pl.DataFrame:
    return (
        loans_frame(300, minority=0.2)
        .drop("loan_id")
        .with_columns(pl.col("status").str.strip_chars())
    )


def _config(tmp_path, **rebalance):
    return parse_config(
        {
            "name": "t",
            "source": str(tmp_path / "absent.csv"),
            "label": "status",
            "rebalance": rebalance,
            "evaluate": {"n_repeats": 1, "n_splits": 3, "models": ["logistic_regression"]},
        }
    )


def test_auto_picks_a_candidate_the_rebalance_step_then_runs(tmp_path):
    config = _config(tmp_path, sampler="auto")
    train = _train()

    evaluated = evaluate_table(train, columns=COLUMNS, config=config, run_dir=tmp_path)
    resampled = MODALITY.rebalance(train, COLUMNS, config, tmp_path, evaluated=evaluated)

    board = {row["name"]: row for row in evaluated.entry["pick"]["leaderboard"]}
    assert list(board) == ["class weights", "RandomOverSampler", "SMOTE", "SMOTETomek"]
    # SMOTETomek's SMOTE needs numbers, and education and area are text: it fails alone.
    assert "numeric features" in board["SMOTETomek"]["failed"]
    assert board["SMOTE"]["failed"] is None  # it ran as SMOTENC
    assert evaluated.picked in {"class_weights", "RandomOverSampler", "SMOTE"}
    assert evaluated.entry["published_arm"] == evaluated.entry["pick"]["winner"]
    assert resampled.requested == "auto"
    expected = {"class_weights": None, "RandomOverSampler": "RandomOverSampler"}
    assert resampled.sampler == expected.get(evaluated.picked, "SMOTENC")
    assert (tmp_path / "evaluation.png").read_bytes().startswith(b"\x89PNG")
    assert evaluated.notes[0].startswith(f"rebalance.sampler auto picked {evaluated.picked}: ")


def test_a_row_choosing_sampler_is_evaluated_on_one_hot_categorical_columns(tmp_path):
    config = _config(tmp_path, sampler="TomekLinks")

    evaluated = evaluate_table(_train(), columns=COLUMNS, config=config, run_dir=tmp_path)

    tomek = next(row for row in evaluated.entry["results"] if row["arm"] == "TomekLinks")
    assert tomek["failed"] is None
    assert evaluated.picked is None and evaluated.entry["published_arm"] == "TomekLinks"


def test_one_hot_sampler_returns_the_chosen_rows_as_they_were():
    from imblearn.under_sampling import RandomUnderSampler

    x = np.array([[1.0, "a"], [2.0, "b"], [3.0, "a"], [4.0, "b"]], dtype=object)
    y = np.array([0, 0, 0, 1])

    chosen_x, chosen_y = OneHotSampler(
        RandomUnderSampler(random_state=0), categorical=[1]
    ).fit_resample(x, y)

    assert chosen_y.tolist().count(0) == chosen_y.tolist().count(1) == 1
    assert chosen_x[chosen_y == 1].tolist() == [[4.0, "b"]]


@pytest.mark.parametrize("lazy", [False, True])
def test_a_large_training_split_is_sampled_per_class_the_same_way_every_time(lazy):
    rows = 20_000
    frame = pl.DataFrame({"x": np.arange(rows), "y": np.where(np.arange(rows) % 50 == 0, "r", "c")})
    train = frame.lazy() if lazy else frame

    sampled = _stratified_rows(train, label="y", rows=1_000, minimum=5, seed=3)

    counts = dict(sampled["y"].value_counts().iter_rows())
    assert 900 <= sampled.height <= 1_100
    assert 15 <= counts["r"] <= 25  # 2% of about 1,000 rows
    assert sampled.equals(_stratified_rows(train, label="y", rows=1_000, minimum=5, seed=3))
    assert not sampled.equals(_stratified_rows(train, label="y", rows=1_000, minimum=5, seed=4))


def test_a_rare_class_keeps_all_its_rows():
    frame = pl.DataFrame({"x": np.arange(10_000), "y": ["r"] * 6 + ["c"] * 9_994})

    sampled = _stratified_rows(frame, label="y", rows=500, minimum=5, seed=0)

    assert sampled.filter(pl.col("y") == "r").height == 6


def test_a_streamed_training_split_is_evaluated_on_a_sample_and_the_report_says_so(tmp_path):
    config = parse_config(
        {
            "name": "t",
            "source": str(tmp_path / "absent.csv"),
            "label": "status",
            "rebalance": {"sampler": "RandomOverSampler"},
            "evaluate": {"n_repeats": 1, "n_splits": 3, "max_rows": 150},
        }
    )
    _train().write_parquet(tmp_path / "train.parquet")

    evaluated = evaluate_table(
        pl.scan_parquet(tmp_path / "train.parquet"),
        columns=COLUMNS,
        config=config,
        run_dir=tmp_path,
    )

    rows = evaluated.entry["rows"]
    assert rows["available"] == 300
    assert 100 <= rows["used"] <= 200
    assert rows["subsampled"].startswith("300 training rows are more than evaluate.max_rows (150)")
    assert "300 training rows are more than" in evaluated.report_sections[0]
