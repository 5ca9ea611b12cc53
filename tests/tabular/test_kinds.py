"""Numeric columns declared categorical (`categorical_columns`) are never interpolated, and a
sampler that interpolates notes the numeric columns that look like codes or row ids."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.tabular import samplers
from tasks.tabular.kinds import MAX_CODES, feature_kinds, kind_notes
from tasks.tabular.resample import rebalance_table
from tasks.tabular.streaming import resample_streaming

FEATURES = ("age", "sex", "suit", "chol")
UNDECLARED = Columns(label="y", features=FEATURES)
DECLARED = Columns(label="y", features=FEATURES, categorical=("sex", "suit"))


def _cards(rows: int = 300, *, seed: int = 0) -> pl.DataFrame:
    """Two numeric measurements and two integer codes: `sex` 0/1 as floats, `suit` 1-4 as
    Int8, of which the minority class holds only 1 and 4 (so interpolating makes 2 and 3)."""
    rng = np.random.default_rng(seed)
    minority = rng.random(rows) < 0.15
    suit = np.where(minority, rng.choice([1, 4], rows), rng.integers(1, 5, rows))
    return pl.DataFrame(
        {
            "age": rng.normal(55, 9, rows) + 5 * minority,
            "sex": rng.integers(0, 2, rows).astype(np.float64),
            "suit": pl.Series(suit, dtype=pl.Int8),
            "chol": rng.normal(240, 40, rows),
            "y": np.where(minority, "ill", "well"),
        }
    )


def _synthetic(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("is_synthetic"))


def test_feature_kinds_puts_declared_numeric_columns_with_the_categorical_ones():
    frame = _cards(20).with_columns(pl.lit("a").alias("colour"))
    columns = Columns(label="y", features=(*FEATURES, "colour"), categorical=("suit",))

    assert feature_kinds(frame, columns) == (["age", "sex", "chol"], ["suit", "colour"])
    assert feature_kinds(frame.lazy(), UNDECLARED) == (list(FEATURES), [])


def test_a_declared_column_of_a_type_samplers_cannot_use_is_still_refused():
    frame = pl.DataFrame({"day": [dt.date(2024, 1, 1)], "y": [0]})

    with pytest.raises(SamplerError, match="'day' has type Date"):
        feature_kinds(frame, Columns(label="y", features=("day",), categorical=("day",)))


def test_declared_codes_get_only_training_values_and_keep_their_dtypes():
    train = _cards()

    result = rebalance_table(train, columns=DECLARED, sampler="SMOTE", params={}, seed=0)

    assert result.sampler == "SMOTENC"
    assert result.categorical == ["sex", "suit"]
    assert result.params["categorical_features"] == ["sex", "suit"]
    synthetic = _synthetic(result.frame)
    assert synthetic.height > 0
    assert result.frame.schema["sex"] == pl.Float64 and result.frame.schema["suit"] == pl.Int8
    assert set(synthetic["sex"]) <= {0.0, 1.0}
    # SMOTENC takes the category most of a row's same-class neighbours have: 1 or 4.
    assert set(synthetic["suit"]) <= {1, 4}
    assert not any("looks categorical" in note for note in result.notes)


def test_undeclared_codes_are_interpolated_and_noted_with_the_key_to_set():
    result = rebalance_table(_cards(), columns=UNDECLARED, sampler="SMOTE", params={}, seed=0)

    synthetic = _synthetic(result.frame)
    assert result.sampler == "SMOTE"
    assert not set(synthetic["sex"]) <= {0.0, 1.0}  # what the declaration prevents
    assert set(synthetic["suit"]) & {2, 3}
    noted = [note for note in result.notes if "looks categorical" in note]
    assert len(noted) == 2
    assert "'sex' looks categorical (2 distinct whole numbers: 0, 1)" in noted[0]
    assert "'suit' looks categorical (4 distinct whole numbers: 1, 2, 3, 4)" in noted[1]
    assert all("`categorical_columns`" in note for note in noted)


@pytest.mark.parametrize("descending", [False, True])
def test_an_id_like_column_gets_the_id_note(descending):
    train = _cards().with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    if descending:
        train = train.with_columns(pl.col("row").reverse())
    columns = Columns(label="y", features=("row", *FEATURES), categorical=("sex", "suit"))

    result = rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)

    (note,) = [note for note in result.notes if "'row'" in note]
    order = "decreasing" if descending else "increasing"
    assert (
        f"'row' looks like a row id (a distinct whole number in each of the 300 training "
        f"rows, {order} in row order)"
    ) in note
    assert "`id_column`" in note and "`ignored_columns`" in note


@pytest.mark.parametrize(
    ("values", "noted"),
    [
        ([float(v % MAX_CODES) for v in range(40)], True),  # 10 whole numbers as floats
        ([v % (MAX_CODES + 1) for v in range(40)], False),  # 11 distinct values
        ([v % 3 + 0.5 for v in range(40)], False),  # not whole numbers
        ([7] * 40, False),  # constant: interpolating keeps it
        ([(v * 7919) % 40 for v in range(40)], False),  # distinct but in no order
    ],
)
def test_the_rules_for_codes_and_ids(values, noted):
    train = pl.DataFrame({"x": values})

    assert bool(kind_notes(train, ["x"], sampler="SMOTE")) is noted


@pytest.mark.parametrize(
    ("sampler", "params", "noted"),
    [
        ("RandomOverSampler", {}, False),
        ("RandomOverSampler", {"shrinkage": 0.5}, True),
        ("RandomUnderSampler", {}, False),
        ("TomekLinks", {}, False),
        ("ClusterCentroids", {}, True),
        ("ClusterCentroids", {"voting": "hard"}, False),
        ("ADASYN", {}, True),
        ("SMOTETomek", {}, True),
    ],
)
def test_only_samplers_that_interpolate_note_codes(sampler, params, noted):
    result = rebalance_table(_cards(), columns=UNDECLARED, sampler=sampler, params=params, seed=0)

    assert any("'suit' looks categorical" in note for note in result.notes) is noted
    assert samplers.interpolates(sampler, params) is noted


def test_smotenc_notes_its_numeric_columns_only():
    train = _cards().with_columns(pl.col("sex").cast(pl.Int64).alias("smoker"))
    columns = Columns(label="y", features=(*FEATURES, "smoker"), categorical=("sex", "suit"))

    result = rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)

    noted = [note for note in result.notes if "looks" in note]
    assert len(noted) == 1 and "'smoker' looks categorical" in noted[0]


def test_names_in_smotencs_categorical_features_declare_the_columns():
    train = _cards()
    params = {"categorical_features": ["suit", "sex"]}

    result = rebalance_table(train, columns=UNDECLARED, sampler="SMOTENC", params=params, seed=0)

    assert result.categorical == ["sex", "suit"]
    assert set(_synthetic(result.frame)["suit"]) <= {1, 4}
    assert result.frame.schema["suit"] == pl.Int8


def test_samplers_that_generate_numbers_refuse_declared_codes():
    with pytest.raises(SamplerError, match=r"ADASYN needs numeric features, but sex, suit are"):
        rebalance_table(_cards(), columns=DECLARED, sampler="ADASYN", params={}, seed=0)


def test_imblearns_own_smotenc_keeps_declared_codes_too(monkeypatch):
    vectorised = rebalance_table(_cards(), columns=DECLARED, sampler="SMOTE", params={}, seed=1)
    installed = dict(samplers.CHECKED_VERSIONS, **{"imbalanced-learn": "0.15.0"})
    monkeypatch.setattr(samplers.importlib.metadata, "version", installed.__getitem__)

    fallback = rebalance_table(_cards(), columns=DECLARED, sampler="SMOTE", params={}, seed=1)

    assert any("imbalanced-learn's own class" in note for note in fallback.notes)
    assert fallback.frame.equals(vectorised.frame)
    assert set(_synthetic(fallback.frame)["suit"]) <= {1, 4}


def test_distance_samplers_see_declared_codes_one_hot(monkeypatch):
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("tasks.tabular.resample.refuse_if_too_large", spy)
    rebalance_table(_cards(), columns=DECLARED, sampler="TomekLinks", params={}, seed=0)

    assert seen["row_bytes"] == 8 * (2 + 2 + 4)  # age, chol; sex 0/1; suits 1-4


def test_runs_that_read_no_features_still_list_the_declared_columns(tmp_path):
    train = _cards(40)

    kept = rebalance_table(train, columns=DECLARED, sampler="none", params={}, seed=0)
    streamed = resample_streaming(
        train.lazy(),
        columns=DECLARED,
        sampler="RandomUnderSampler",
        params={},
        seed=0,
        output=tmp_path / "train.parquet",
    )

    assert kept.categorical == streamed.categorical == ["sex", "suit"]
