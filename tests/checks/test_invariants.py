import polars as pl
import pytest

from tasks.core.classes import class_counts, counts_by_name
from tasks.core.frames import write_parquet
from tasks.run.manifest import read_manifest, write_manifest
from validations.invariants import InvariantViolation, check_run_invariants, holdout_hashes


def _keys(frame: pl.DataFrame) -> pl.Series:
    return frame.select("x").hash_rows(seed=0)


def _run_folder(tmp_path, *, train_out=None, removed=0):
    """A consistent run folder: split train, val/test as split, train after resampling."""
    split_train = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "a", "a", "b"]})
    val = pl.DataFrame({"x": [10.0, 11.0], "y": ["a", "b"]})
    test = pl.DataFrame({"x": [20.0, 21.0], "y": ["a", "b"]})
    if train_out is None:
        synthetic = pl.DataFrame({"x": [4.5, 4.2], "y": ["b", "b"]})
        train_out = pl.concat(
            [
                split_train.with_columns(pl.lit(False).alias("is_synthetic")),
                synthetic.with_columns(pl.lit(True).alias("is_synthetic")),
            ]
        )
    write_parquet(val, tmp_path / "val.parquet")
    write_parquet(test, tmp_path / "test.parquet")
    hashes = holdout_hashes(tmp_path)
    write_parquet(train_out, tmp_path / "train.parquet")
    manifest = {
        "rows": {"removed_by_sampler": removed},
        "counts": {
            "before": {"val": counts_by_name(class_counts(val["y"])), "test": {"a": 1, "b": 1}},
            "after": {"train": counts_by_name(class_counts(train_out["y"]))},
        },
    }
    write_manifest(manifest, tmp_path)
    return split_train, hashes


def _check(tmp_path, split_train, hashes):
    check_run_invariants(
        tmp_path,
        manifest=read_manifest(tmp_path / "manifest.json"),
        label="y",
        split_train=split_train,
        holdout_sha256=hashes,
        sample_keys=_keys,
    )


def test_a_consistent_run_passes(tmp_path):
    split_train, hashes = _run_folder(tmp_path)

    _check(tmp_path, split_train, hashes)


def test_val_rewritten_after_the_split_is_caught(tmp_path):
    split_train, hashes = _run_folder(tmp_path)
    write_parquet(pl.DataFrame({"x": [10.0, 12.0], "y": ["a", "b"]}), tmp_path / "val.parquet")

    with pytest.raises(InvariantViolation, match=r"val\.parquet changed after the split"):
        _check(tmp_path, split_train, hashes)


def test_a_val_sample_duplicated_into_train_is_caught(tmp_path):
    split_train = pl.DataFrame({"x": [1.0, 2.0, 10.0, 4.0], "y": ["a", "a", "a", "b"]})
    train_out = split_train.with_columns(pl.lit(False).alias("is_synthetic"))
    _, hashes = _run_folder(tmp_path, train_out=train_out)

    with pytest.raises(InvariantViolation, match=r"val\.parquet has an exact duplicate in train"):
        _check(tmp_path, split_train, hashes)


def test_an_original_that_was_not_in_the_split_is_caught(tmp_path):
    train_out = pl.DataFrame(
        {"x": [1.0, 2.0, 3.0, 99.0], "y": ["a", "a", "a", "b"], "is_synthetic": [False] * 4}
    )
    split_train, hashes = _run_folder(tmp_path, train_out=train_out)

    with pytest.raises(InvariantViolation, match="not in the training split"):
        _check(tmp_path, split_train, hashes)


def test_originals_lost_without_a_sampler_removing_them_are_caught(tmp_path):
    train_out = pl.DataFrame(
        {"x": [1.0, 2.0, 4.0], "y": ["a", "a", "b"], "is_synthetic": [False] * 3}
    )
    split_train, hashes = _run_folder(tmp_path, train_out=train_out, removed=0)

    with pytest.raises(InvariantViolation, match="lost 1 original samples"):
        _check(tmp_path, split_train, hashes)


def test_counts_that_disagree_with_the_manifest_are_caught(tmp_path):
    split_train, hashes = _run_folder(tmp_path)
    train = pl.read_parquet(tmp_path / "train.parquet")
    write_parquet(train.head(5), tmp_path / "train.parquet")

    with pytest.raises(InvariantViolation, match=r"class counts of train\.parquet"):
        _check(tmp_path, split_train, hashes)


def _with_synthetic(x: float, y: str) -> pl.DataFrame:
    split_train = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": ["a", "a", "a", "b"]})
    synthetic = pl.DataFrame({"x": [4.5, x], "y": ["b", y]})
    return pl.concat(
        [
            split_train.with_columns(pl.lit(False).alias("is_synthetic")),
            synthetic.with_columns(pl.lit(True).alias("is_synthetic")),
        ]
    )


def _check_identities(tmp_path, split_train, hashes):
    check_run_invariants(
        tmp_path,
        manifest=read_manifest(tmp_path / "manifest.json"),
        label="y",
        split_train=split_train,
        holdout_sha256=hashes,
        sample_keys=_keys,
        sample_identity=_keys,
    )


@pytest.mark.parametrize(("x", "split"), [(2.0, "train"), (11.0, "val"), (20.0, "test")])
def test_a_synthetic_sample_identical_to_an_original_of_another_class_is_caught(tmp_path, x, split):
    # 2.0 is an "a" in train, 11.0 a "b" in val, 20.0 an "a" in test.
    label = "b" if split != "val" else "a"
    split_train, hashes = _run_folder(tmp_path, train_out=_with_synthetic(x, label))

    with pytest.raises(InvariantViolation, match=rf"another class in {split}\.parquet"):
        _check_identities(tmp_path, split_train, hashes)


def test_synthetic_samples_identical_to_their_own_class_or_to_nothing_pass(tmp_path):
    # 4.0 is a "b" in train, 10.0 is an "a" in val: same class, no contradiction.
    train_out = pl.concat([_with_synthetic(4.0, "b"), _with_synthetic(10.0, "a").tail(1)])
    split_train, hashes = _run_folder(tmp_path, train_out=train_out)

    _check_identities(tmp_path, split_train, hashes)
