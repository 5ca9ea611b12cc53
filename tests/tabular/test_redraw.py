"""Synthetic table rows identical to an original row of another class: redrawn or dropped."""

import io

import numpy as np
import polars as pl
from imblearn.over_sampling import SMOTEN

from tasks.core.columns import Columns
from tasks.core.conflicts import labelled_identities, table_identity
from tasks.core.frames import PARQUET_SETTINGS, write_parquet
from tasks.tabular import samplers
from tasks.tabular.redraw import replace_contradicting
from tasks.tabular.resample import rebalance_table
from tasks.tabular.streaming import resample_streaming

COLUMNS = Columns(label="y", features=("c1", "c2"))
# Two categorical columns (3 and 2 values): the majority has 4 of the 6 combinations, the
# minority shares some of them, so SMOTEN's modes often land on a majority combination.
MAJORITY = [("x", "p")] * 10 + [("y", "p")] * 10 + [("x", "q")] * 10 + [("y", "q")] * 6
MINORITY = [("x", "p"), ("z", "q"), ("z", "p"), ("y", "q"), ("z", "q"), ("x", "q"), ("z", "p")]
MINORITY += [("y", "p")]


def _discrete() -> pl.DataFrame:
    rows = MAJORITY + MINORITY
    return pl.DataFrame(
        {
            "c1": [row[0] for row in rows],
            "c2": [row[1] for row in rows],
            "y": ["a"] * len(MAJORITY) + ["b"] * len(MINORITY),
        }
    )


def _raw_smoten(train: pl.DataFrame) -> list[tuple]:
    """The synthetic rows of imblearn's own SMOTEN, with the run's parameters."""
    features = train.select("c1", "c2").to_numpy().astype(object)
    sampler = SMOTEN(random_state=0, k_neighbors=5)
    resampled, _ = sampler.fit_resample(features, train["y"].to_numpy())
    return [tuple(row) for row in resampled[train.height :]]


def _synthetic(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("is_synthetic"))


def _pairs(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select("c1", "c2").iter_rows())


def test_smoten_writes_majority_rows_as_minority_before_the_check():
    raw = _raw_smoten(_discrete())

    assert len(raw) == 28
    assert sum(row in set(MAJORITY) for row in raw) == 16  # the fixture provokes it


def test_no_synthetic_row_repeats_a_row_of_another_class_and_the_counts_are_exact():
    train = _discrete()
    raw = _raw_smoten(train)
    contradicting = sum(row in set(MAJORITY) for row in raw)

    result = rebalance_table(
        train, columns=COLUMNS, sampler="SMOTE", params={"k_neighbors": 5}, seed=0
    )

    synthetic = _synthetic(result.frame)
    assert result.sampler == "SMOTEN"
    assert not _pairs(synthetic) & set(MAJORITY)
    counts = result.conflicts.as_manifest()
    assert counts["found"] == contradicting
    assert counts["per_class"]["b"]["found"] == contradicting
    assert counts["replaced"] + counts["dropped"] == contradicting
    assert counts["replaced"] > 0
    assert synthetic.height == len(raw) - counts["dropped"]
    # The rows that contradicted nothing are kept as drawn, before their replacements.
    kept = [row for row in raw if row not in set(MAJORITY)]
    assert list(synthetic.select("c1", "c2").iter_rows())[: len(kept)] == kept


def test_the_same_seed_writes_the_same_bytes():
    def written(seed: int) -> bytes:
        result = rebalance_table(
            _discrete(), columns=COLUMNS, sampler="SMOTE", params={}, seed=seed
        )
        buffer = io.BytesIO()
        result.frame.write_parquet(buffer, **PARQUET_SETTINGS)
        return buffer.getvalue()

    assert written(3) == written(3)


def test_a_row_of_another_class_in_val_or_test_counts_too():
    train = _discrete()
    first_draw = _raw_smoten(train)
    val = pl.DataFrame({"c1": ["z"], "c2": ["p"], "y": ["a"]})  # only val has (z, p) as "a"
    holdout = labelled_identities(table_identity(val, COLUMNS.features), val["y"])

    alone = rebalance_table(train, columns=COLUMNS, sampler="SMOTE", params={}, seed=0)
    checked = rebalance_table(
        train, columns=COLUMNS, sampler="SMOTE", params={}, seed=0, holdout=holdout
    )

    assert ("z", "p") in _pairs(_synthetic(alone.frame))
    assert ("z", "p") not in _pairs(_synthetic(checked.frame))
    # The first draw's (z, p) rows are found on top of those that repeat a majority row.
    found_in_val = checked.conflicts.found - alone.conflicts.found
    assert found_in_val == first_draw.count(("z", "p")) > 0


def test_imblearns_own_smoten_gives_the_same_rows_as_the_vectorised_one(monkeypatch):
    vectorised = rebalance_table(_discrete(), columns=COLUMNS, sampler="SMOTE", params={}, seed=0)
    monkeypatch.setitem(samplers.CHECKED_VERSIONS, "imbalanced-learn", "0.0.0")

    own = rebalance_table(_discrete(), columns=COLUMNS, sampler="SMOTE", params={}, seed=0)

    assert any("imbalanced-learn's own class" in note for note in own.notes)
    assert own.frame.equals(vectorised.frame)
    assert own.conflicts == vectorised.conflicts
    assert own.conflicts.found > 0


def test_a_sampler_that_cannot_draw_a_count_per_class_drops_and_counts():
    synthetic = pl.DataFrame({"c1": ["x", "z", "y", "z"], "c2": ["p", "q", "q", "p"], "y": "b"})
    originals = labelled_identities(
        table_identity(pl.DataFrame({"c1": ["x", "y"], "c2": ["p", "q"]}), COLUMNS.features),
        pl.Series(["a", "b"]),
    )

    kept, conflicts = replace_contradicting(
        synthetic,
        originals=originals,
        label="y",
        identify=lambda frame: table_identity(frame, COLUMNS.features),
        seed=0,
        draw=None,
    )

    assert _pairs(kept) == {("z", "q"), ("y", "q"), ("z", "p")}
    assert conflicts.as_manifest()["per_class"] == {"b": {"found": 1, "replaced": 0, "dropped": 1}}


def _twins() -> pl.DataFrame:
    """Numbers where a few minority rows have the features of majority rows."""
    rng = np.random.default_rng(5)
    majority = rng.integers(0, 40, size=(60, 2))
    minority = np.vstack([majority[:4], rng.integers(100, 140, size=(8, 2))])
    values = np.vstack([majority, minority])
    return pl.DataFrame(
        {"id": np.arange(72), "f1": values[:, 0], "f2": values[:, 1], "y": [0] * 60 + [1] * 12}
    )


def test_a_streamed_over_sampler_copies_what_the_in_memory_one_does(tmp_path):
    sampler = "RandomOverSampler"
    columns = Columns(label="y", features=("f1", "f2"), id_column="id")
    train = _twins()
    write_parquet(train, tmp_path / "split.parquet")

    in_memory = rebalance_table(train, columns=columns, sampler=sampler, params={}, seed=1)
    streamed = resample_streaming(
        pl.scan_parquet(tmp_path / "split.parquet"),
        columns=columns,
        sampler=sampler,
        params={},
        seed=1,
        output=tmp_path / "train.parquet",
        batch_rows=16,
    )

    copies = [
        _synthetic(frame.lazy().collect()).drop("id").sort(pl.all())
        for frame in (in_memory.frame, streamed.frame)
    ]
    assert copies[0].equals(copies[1])
    assert in_memory.conflicts == streamed.conflicts
    found = in_memory.conflicts.per_class["1"]
    assert found.found > 0 and found.replaced == found.found
    twins = set(map(tuple, train.head(4).select("f1", "f2").rows()))
    assert not set(copies[1].select("f1", "f2").rows()) & twins
    assert copies[1].height == 48  # the minority still reaches the majority's 60
