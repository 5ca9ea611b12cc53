"""Streamed SMOTE, SMOTENC and SMOTEN write the train.parquet of a run in memory."""

import numpy as np
import polars as pl
import pytest

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.core.conflicts import labelled_identities, table_identity
from tasks.core.frames import write_parquet
from tasks.tabular import memory_guard, samplers, streaming_smote
from tasks.tabular.resample import rebalance_table
from tasks.tabular.streaming import resample_streaming, streams

# Small batches and blocks, so that hashing and SMOTE's blocks run several times.
BATCH_ROWS = 300
BLOCK_ROWS = 97
SIZES = {"a": 1500, "b": 300, "c": 40}


def _table(*, sizes=SIZES, categorical=0, numeric=3, seed=0) -> pl.DataFrame:
    """Classes of `sizes` rows, shifted apart; an id column and an integer column."""
    rng = np.random.default_rng(seed)
    parts = []
    for shift, (label, size) in enumerate(sizes.items()):
        part = {f"x{index}": rng.normal(shift, 1.0, size) for index in range(numeric)}
        if numeric:
            part["count"] = rng.integers(0, 50 + 10 * shift, size)
            part["grade"] = rng.integers(1, 5, size)  # codes: a note when interpolated
        for index in range(categorical):
            part[f"c{index}"] = rng.choice(["p", "q", "r", "s"][: 2 + index + shift], size)
        part["label"] = [label] * size
        parts.append(pl.DataFrame(part))
    # Classes interleaved, as in a real table, and an id per row.
    frame = pl.concat(parts).sample(fraction=1.0, shuffle=True, seed=seed)
    return frame.with_row_index("row_id").with_columns(pl.format("r{}", "row_id").alias("row_id"))


def _columns(frame: pl.DataFrame) -> Columns:
    features = tuple(name for name in frame.columns if name not in ("row_id", "label"))
    return Columns(label="label", features=features, id_column="row_id")


def _streamed(tmp_path, frame, *, sampler="SMOTE", params=None, holdout=None, seed=0):
    """`frame` written as the training split's parquet file and resampled streamed into
    `tmp_path / "train.parquet"`."""
    source = tmp_path / "train-split.parquet"
    write_parquet(frame, source)
    return resample_streaming(
        pl.scan_parquet(source),
        columns=_columns(frame),
        sampler=sampler,
        params=params or {},
        seed=seed,
        output=tmp_path / "train.parquet",
        holdout=holdout,
        batch_rows=BATCH_ROWS,
    )


def _both(tmp_path, frame, *, sampler="SMOTE", params=None, holdout=None, seed=7):
    """(in memory, streamed): the resampled frames and their Resampled records, both from
    the training split as written to parquet."""
    streamed = _streamed(
        tmp_path, frame, sampler=sampler, params=params, holdout=holdout, seed=seed
    )
    in_memory = rebalance_table(
        pl.read_parquet(tmp_path / "train-split.parquet"),
        columns=_columns(frame),
        sampler=sampler,
        params=params or {},
        seed=seed,
        holdout=holdout,
    )
    return in_memory, streamed, pl.read_parquet(tmp_path / "train.parquet")


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    monkeypatch.setattr(streaming_smote, "BLOCK_ROWS", BLOCK_ROWS)


@pytest.mark.parametrize(
    ("categorical", "numeric", "runs_as"),
    [(0, 3, "SMOTE"), (2, 2, "SMOTENC"), (3, 0, "SMOTEN")],
)
@pytest.mark.parametrize("strategy", ["auto", {"b": 700, "c": 450}, "minority"])
def test_streamed_rows_equal_the_rows_in_memory(tmp_path, categorical, numeric, runs_as, strategy):
    frame = _table(categorical=categorical, numeric=numeric)

    in_memory, streamed, written = _both(tmp_path, frame, params={"sampling_strategy": strategy})

    assert streamed.sampler == in_memory.sampler == runs_as
    assert written.equals(in_memory.frame)
    assert written["is_synthetic"].sum() > 0
    assert streamed.params == in_memory.params
    assert streamed.conflicts == in_memory.conflicts
    assert streamed.notes == in_memory.notes
    assert any("'grade' looks categorical" in note for note in streamed.notes) == (numeric > 0)


def test_a_class_of_few_rows_lowers_k_as_in_memory(tmp_path):
    frame = _table(sizes={"a": 600, "b": 4, "c": 90})

    in_memory, streamed, written = _both(tmp_path, frame)

    assert written.equals(in_memory.frame)
    assert any("k_neighbors lowered from 5 to 3" in note for note in streamed.notes)
    assert streamed.params["k_neighbors"] == in_memory.params["k_neighbors"] == 3


def test_a_class_of_one_row_is_refused_as_in_memory(tmp_path):
    frame = _table(sizes={"a": 300, "b": 1, "c": 40})

    with pytest.raises(SamplerError, match="class 'b' has a single training row"):
        _both(tmp_path, frame)


@pytest.mark.parametrize(("categorical", "numeric"), [(0, 2), (2, 1), (3, 0)])
def test_copies_of_another_class_are_redrawn_as_in_memory(tmp_path, categorical, numeric):
    # Class c is the same row of class a five times over, then its own rows: SMOTE between
    # the five writes that row again, which contradicts class a.
    frame = _table(sizes={"a": 800, "b": 200, "c": 30}, categorical=categorical, numeric=numeric)
    row_of_a = frame.filter(pl.col("label") == "a").head(1)
    copies = pl.concat([row_of_a] * 5).with_columns(
        pl.lit("c").alias("label"), pl.format("dup{}", pl.int_range(5)).alias("row_id")
    )
    frame = pl.concat([frame, copies])

    in_memory, streamed, written = _both(tmp_path, frame)

    assert written.equals(in_memory.frame)
    assert streamed.conflicts == in_memory.conflicts
    assert sum(item.found for item in streamed.conflicts.per_class.values()) > 0
    originals = labelled_identities(table_identity(frame, _columns(frame).features), frame["label"])
    synthetic = written.filter("is_synthetic")
    keys = table_identity(synthetic, _columns(frame).features)
    clashes = pl.DataFrame({"identity": keys, "mine": synthetic["label"]}).join(
        originals, on="identity"
    )
    assert clashes.filter(pl.col("mine") != pl.col("label")).is_empty()


def test_a_holdout_row_is_never_contradicted(tmp_path):
    frame = _table(sizes={"a": 500, "b": 60, "c": 30}, categorical=3, numeric=0)
    columns = _columns(frame)
    # Every row of class a, as val rows of class b: many synthetic b rows would equal one.
    val = frame.filter(pl.col("label") == "a").with_columns(pl.lit("b").alias("label"))
    holdout = labelled_identities(table_identity(val, columns.features), val["label"])

    in_memory, streamed, written = _both(tmp_path, frame, holdout=holdout)

    assert written.equals(in_memory.frame)
    assert streamed.conflicts == in_memory.conflicts


@pytest.mark.parametrize(("categorical", "numeric"), [(2, 2), (3, 0)])
def test_nulls_in_categorical_features_are_a_category_as_in_memory(tmp_path, categorical, numeric):
    frame = _table(categorical=categorical, numeric=numeric).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise("c1").alias("c1")
    )

    in_memory, _, written = _both(tmp_path, frame)

    assert written.equals(in_memory.frame)
    assert written.filter("is_synthetic")["c1"].null_count() > 0


@pytest.mark.parametrize("categorical", [0, 2])
def test_nulls_in_numeric_features_are_refused_both_ways(tmp_path, categorical):
    # Nulls in class a only, which is not oversampled: in memory imblearn sees them.
    frame = _table(categorical=categorical, numeric=2).with_columns(
        pl.when(pl.col("label") == "a").then(None).otherwise(pl.col("x1")).alias("x1")
    )
    with pytest.raises(SamplerError, match="NaN"):
        rebalance_table(frame, columns=_columns(frame), sampler="SMOTE", params={}, seed=0)
    with pytest.raises(SamplerError, match="feature column 'x1' has 1,500 null, NaN"):
        _streamed(tmp_path, frame)


@pytest.mark.skipif(
    samplers.vectorised_fallback("SMOTE") is not None,
    reason="imblearn's own SMOTE runs (another release): the split is collected instead",
)
def test_only_the_smote_family_streams():
    assert streams("SMOTE", {}) and streams("smotenc", {}) and streams("SMOTEN", {})
    for name in ("BorderlineSMOTE", "SVMSMOTE", "ADASYN", "KMeansSMOTE", "SMOTEENN"):
        assert not streams(name, {})


def test_the_streamed_path_holds_only_the_oversampled_classes(tmp_path, monkeypatch):
    frame = _table()
    held = {}
    collect = streaming_smote._oversampled_rows

    def spy(*args, **kwargs):
        held["rows"] = collect(*args, **kwargs)
        return held["rows"]

    monkeypatch.setattr(streaming_smote, "_oversampled_rows", spy)
    _streamed(tmp_path, frame)

    assert sorted(held["rows"]["label"].unique().to_list()) == ["b", "c"]
    assert held["rows"].height == SIZES["b"] + SIZES["c"]


def test_in_memory_refusal_points_to_streaming_when_streaming_fits(monkeypatch):
    frame = _table(sizes={"a": 20_000, "b": 60}, numeric=20)
    columns = _columns(frame)
    in_memory = memory_guard.resample_bytes(20_060, 8 * 22, 19_940)
    streamed = memory_guard.streamed_smote_estimate(
        "SMOTE",
        rows=20_060,
        oversampled_rows=60,
        new_rows=19_940,
        n_numeric=22,
        n_categorical=0,
        one_hot_columns=0,
        n_neighbors=6,
    )
    assert streamed < in_memory
    # Room for the streamed path, not for the in-memory matrices of every row.
    monkeypatch.setattr(memory_guard, "available_bytes", lambda: (streamed + in_memory) // 2)

    with pytest.raises(SamplerError, match=r"set `streaming: \{enabled: true\}`"):
        rebalance_table(frame, columns=columns, sampler="SMOTE", params={}, seed=0)


def test_in_memory_refusal_without_streaming_hint_when_neither_fits(monkeypatch):
    frame = _table(sizes={"a": 3000, "b": 60})
    monkeypatch.setattr(memory_guard, "available_bytes", lambda: 1_000)

    with pytest.raises(SamplerError) as error:
        rebalance_table(frame, columns=_columns(frame), sampler="SMOTE", params={}, seed=0)
    assert "needs about" in str(error.value)
    assert "streamed it needs" not in str(error.value)


def test_streamed_refusal_names_the_oversampled_rows(tmp_path, monkeypatch):
    frame = _table()
    monkeypatch.setattr(memory_guard, "available_bytes", lambda: 1_000)

    with pytest.raises(SamplerError, match=r"SMOTE streamed on 1,840 training rows") as error:
        _streamed(tmp_path, frame)
    assert "340 rows of the classes it oversamples" in str(error.value)


def test_streamed_estimate_grows_with_the_oversampled_rows_not_the_others():
    def estimate(rows, oversampled_rows):
        return memory_guard.streamed_smote_estimate(
            "SMOTE",
            rows=rows,
            oversampled_rows=oversampled_rows,
            new_rows=1_000_000,
            n_numeric=20,
            n_categorical=0,
            one_hot_columns=0,
            n_neighbors=6,
        )

    more_majority = estimate(10_000_000, 300_000) - estimate(1_000_000, 300_000)
    more_minority = estimate(1_000_000, 3_000_000) - estimate(1_000_000, 300_000)
    # A majority row costs a hash and a label; an oversampled row its values, several times.
    assert more_majority == memory_guard.STREAMED_ROW_BYTES * 9_000_000
    assert more_minority > 3 * 20 * 8 * 2_700_000
