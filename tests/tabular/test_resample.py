import polars as pl
import pytest

from rebalance.errors import SamplerError
from tasks.core.columns import Columns
from tasks.tabular.resample import rebalance_table
from tasks.tabular.samplers import build_sampler, sampler_name
from tests.helpers import loans_frame, numeric_frame

LOANS = Columns(
    label="status", features=("income", "amount", "term", "education", "area"), id_column="loan_id"
)
NUMERIC = Columns(label="y", features=("a", "b", "c"))


def _loans():
    return loans_frame(300).with_columns(pl.col("status").str.strip_chars())


def _originals(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(~pl.col("is_synthetic")).drop("is_synthetic")


def test_smote_auto_brings_every_class_to_the_majority_count():
    result = rebalance_table(numeric_frame(), columns=NUMERIC, sampler="SMOTE", params={}, seed=0)

    counts = result.frame["y"].value_counts()["count"]
    assert counts.n_unique() == 1
    assert counts[0] == numeric_frame()["y"].value_counts()["count"].max()


def test_smote_on_mixed_columns_runs_smotenc_and_keeps_seen_categories():
    train = _loans()

    result = rebalance_table(train, columns=LOANS, sampler="SMOTE", params={}, seed=0)

    assert result.sampler == "SMOTENC"
    assert result.categorical == ["education", "area"]
    assert result.params["categorical_features"] == ["education", "area"]
    assert any("SMOTENC" in note for note in result.notes)
    synthetic = result.frame.filter(pl.col("is_synthetic"))
    assert synthetic.height > 0
    for column in ("education", "area"):
        assert set(synthetic[column]) <= set(train[column])


def test_smote_on_categorical_only_runs_smoten():
    train = _loans().select("loan_id", "education", "area", "status")
    columns = Columns(label="status", features=("education", "area"), id_column="loan_id")

    result = rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)

    assert result.sampler == "SMOTEN"


def test_original_rows_come_back_exactly_with_their_dtypes_and_ids():
    train = _loans()

    result = rebalance_table(train, columns=LOANS, sampler="SMOTE", params={}, seed=0)

    assert _originals(result.frame).equals(train)
    assert result.frame.schema == {**train.schema, "is_synthetic": pl.Boolean}
    synthetic = result.frame.filter(pl.col("is_synthetic"))
    assert synthetic["loan_id"].null_count() == synthetic.height
    assert (synthetic["status"] == "Approved").all()


@pytest.mark.parametrize(
    "sampler",
    [
        "RandomOverSampler",
        "RandomUnderSampler",
        "ADASYN",
        "BorderlineSMOTE",
        "TomekLinks",
        "EditedNearestNeighbours",
        "NearMiss",
        "ClusterCentroids",
        "SMOTEENN",
        "SMOTETomek",
        "none",
    ],
)
def test_every_sampler_keeps_originals_as_a_subset_of_train(sampler):
    train = numeric_frame().with_row_index("row")
    columns = Columns(label="y", features=("a", "b", "c"), id_column="row")

    result = rebalance_table(train, columns=columns, sampler=sampler, params={}, seed=0)

    originals = _originals(result.frame)
    assert originals["row"].is_unique().all()
    assert originals.equals(train.filter(pl.col("row").is_in(originals["row"].implode())))
    assert result.frame["c"].dtype == pl.Int64


def test_random_oversampling_marks_repeated_rows_as_synthetic():
    train = numeric_frame()

    result = rebalance_table(train, columns=NUMERIC, sampler="RandomOverSampler", params={}, seed=0)

    assert _originals(result.frame).equals(train)
    assert result.frame["is_synthetic"].sum() == result.frame.height - train.height


def test_same_seed_same_rows():
    first = rebalance_table(_loans(), columns=LOANS, sampler="SMOTE", params={}, seed=5)
    again = rebalance_table(_loans(), columns=LOANS, sampler="SMOTE", params={}, seed=5)

    assert first.frame.equals(again.frame)


def test_k_is_lowered_for_a_small_class_with_a_note():
    train = pl.DataFrame({"a": [float(v) for v in range(23)], "y": ["big"] * 20 + ["small"] * 3})
    columns = Columns(label="y", features=("a",))

    result = rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)

    assert result.params["k_neighbors"] == 2
    assert "lowered from 5 to 2" in result.notes[0]
    assert (result.frame["y"] == "small").sum() == 20


@pytest.mark.parametrize("sampler", ["SMOTEENN", "SMOTETomek"])
def test_k_of_the_smote_step_of_combined_samplers_is_lowered(sampler):
    train = pl.DataFrame({"a": [float(v) for v in range(40)], "y": ["big"] * 36 + ["small"] * 4})
    columns = Columns(label="y", features=("a",))

    result = rebalance_table(train, columns=columns, sampler=sampler, params={}, seed=0)

    assert "lowered from 5 to 3" in result.notes[0]
    assert (result.frame["y"] == "small").sum() > 4


def test_a_single_row_class_under_smote_suggests_random_oversampling():
    train = pl.DataFrame({"a": [float(v) for v in range(21)], "y": ["big"] * 20 + ["one"]})
    columns = Columns(label="y", features=("a",))

    with pytest.raises(SamplerError, match=r"'one' has a single training row.*RandomOverSampler"):
        rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)


def test_numeric_only_samplers_refuse_categorical_columns_with_alternatives():
    with pytest.raises(SamplerError, match=r"ADASYN needs numeric features.*education, area"):
        rebalance_table(_loans(), columns=LOANS, sampler="ADASYN", params={}, seed=0)


def test_distance_undersamplers_work_on_mixed_columns():
    train = _loans()

    result = rebalance_table(train, columns=LOANS, sampler="TomekLinks", params={}, seed=0)

    assert result.frame.height <= train.height
    assert result.frame.schema["education"] == pl.String


def test_sampler_names_are_case_insensitive_and_seeded():
    sampler = build_sampler("smote", {"k_neighbors": 3}, seed=9)

    assert sampler_name(sampler) == "SMOTE"
    assert sampler.random_state == 9


def test_an_identifier_like_categorical_column_is_refused_with_its_size():
    train = pl.DataFrame(
        {"code": [f"c{index}" for index in range(3000)], "y": ["a"] * 2700 + ["b"] * 300}
    )
    columns = Columns(label="y", features=("code",))

    with pytest.raises(SamplerError, match=r"'code' has 3000 distinct values .* GB\)"):
        rebalance_table(train, columns=columns, sampler="SMOTE", params={}, seed=0)
