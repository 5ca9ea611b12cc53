"""Invariants every run checks on its own outputs before they are published.

They hold by construction; checking them anyway turns a bug (or a disk that lost a write)
into a failed run instead of a training set that silently leaks or lies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import polars as pl

from rebalance.errors import RebalanceError
from tasks.ingest import file_sha256
from tasks.manifest import MANIFEST_FILE, counts_by_name
from tasks.modality import SYNTHETIC
from tasks.split import class_counts

HOLDOUT_SPLITS = ("val", "test")


class InvariantViolation(RebalanceError):
    """A run's outputs break a promise the pipeline makes; the run is not published."""


def holdout_hashes(run_dir: Path, /) -> dict[str, str]:
    """sha256 of every val/test output (the parquet files and any files under val/, test/)."""
    paths = []
    for split in HOLDOUT_SPLITS:
        paths.append(run_dir / f"{split}.parquet")
        if (run_dir / split).is_dir():
            paths.extend(sorted(path for path in (run_dir / split).rglob("*") if path.is_file()))
    return {path.relative_to(run_dir).as_posix(): file_sha256(path) for path in paths}


def check_run_invariants(
    run_dir: Path,
    /,
    *,
    label: str,
    split_train: pl.DataFrame,
    holdout_sha256: dict[str, str],
    sample_keys: Callable[[pl.DataFrame], pl.Series | None],
    output_columns: Mapping[str, str | None] | None = None,
) -> None:
    """Check the run folder before it is published.

    - val and test are byte-identical to what the split wrote, and hold no synthetic sample;
    - no val/test sample has an exact duplicate (by `sample_keys`) among original train samples;
    - the original train samples are exactly split rows (all of them unless the sampler
      removes rows);
    - class counts in the files match manifest.json.

    `output_columns` maps a train.parquet column to the split column it holds (None: a column
    the modality rewrites, such as an image's path inside the run folder).

    Raises:
        InvariantViolation: naming the invariant and the file that breaks it.
    """
    manifest = json.loads((run_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    now = holdout_hashes(run_dir)
    for name, digest in holdout_sha256.items():
        if now.get(name) != digest or manifest["files"].get(name) != digest:
            _fail(f"{name} changed after the split wrote it")
    if set(now) != set(holdout_sha256):
        _fail(f"val/test files changed after the split: {sorted(set(now) ^ set(holdout_sha256))}")

    train = pl.read_parquet(run_dir / "train.parquet")
    originals = train.filter(~pl.col(SYNTHETIC)).drop(SYNTHETIC)
    holdouts = {split: pl.read_parquet(run_dir / f"{split}.parquet") for split in HOLDOUT_SPLITS}
    for split, frame in holdouts.items():
        if SYNTHETIC in frame.columns and frame[SYNTHETIC].any():
            _fail(f"{split}.parquet holds synthetic samples")
    _check_originals(_as_split_columns(originals, output_columns or {}), split_train, manifest)
    _check_no_leak(originals, holdouts, sample_keys)
    _check_counts(label, train, holdouts, manifest)


def _as_split_columns(frame: pl.DataFrame, output_columns: Mapping[str, str | None]):
    dropped = [name for name, target in output_columns.items() if target is None]
    renamed = {name: target for name, target in output_columns.items() if target is not None}
    return frame.drop(dropped, strict=False).rename(renamed, strict=False)


def _check_originals(originals: pl.DataFrame, split_train: pl.DataFrame, manifest: dict) -> None:
    columns = [name for name in originals.columns if name in split_train.columns]
    kept = originals.select(columns).hash_rows(seed=0).value_counts()
    available = split_train.select(columns).hash_rows(seed=0).value_counts()
    joined = kept.join(available, on=kept.columns[0], how="left", suffix="_split")
    if joined["count_split"].is_null().any() or (joined["count"] > joined["count_split"]).any():
        _fail("train.parquet holds an original sample that is not in the training split")
    removed = split_train.height - originals.height
    if removed != manifest["rows"].get("removed_by_sampler", 0):
        _fail(
            f"train.parquet lost {removed} original samples, but the manifest records "
            f"{manifest['rows'].get('removed_by_sampler', 0)} removed by the sampler"
        )


def _check_no_leak(originals, holdouts, sample_keys) -> None:
    train_keys = sample_keys(originals)
    if train_keys is None:
        return
    for split, frame in holdouts.items():
        keys = sample_keys(frame)
        if keys is not None and keys.is_in(train_keys.implode()).any():
            _fail(f"a sample of {split}.parquet has an exact duplicate in train")


def _check_counts(label, train, holdouts, manifest) -> None:
    expected = {"train": manifest["counts"]["after"]["train"]}
    expected.update({split: manifest["counts"]["before"][split] for split in HOLDOUT_SPLITS})
    frames = {"train": train, **holdouts}
    for split, frame in frames.items():
        if counts_by_name(class_counts(frame[label])) != expected[split]:
            _fail(f"class counts of {split}.parquet differ from manifest.json")


def _fail(problem: str) -> None:
    msg = f"run invariant broken: {problem}; the run was not published (please report this)"
    raise InvariantViolation(msg)
