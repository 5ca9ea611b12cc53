"""Invariants every run checks on its own outputs before they are published.

They hold by construction; checking them anyway turns a bug (or a disk that lost a write)
into a failed run instead of a training set that silently leaks or lies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from rebalance.errors import RebalanceError
from tasks.core.classes import counts_by_name, label_counts
from tasks.core.columns import SYNTHETIC
from tasks.core.conflicts import contradicting, labelled_identities
from tasks.core.files import file_sha256
from tasks.core.frames import batches, row_count

HOLDOUT_SPLITS = ("val", "test")
# Rows read back at once when checking the outputs.
BATCH_ROWS = 500_000


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
    manifest: Mapping[str, Any],
    label: str,
    split_train: pl.DataFrame | pl.LazyFrame,
    holdout_sha256: dict[str, str],
    sample_keys: Callable[[pl.DataFrame], pl.Series | None],
    output_columns: Mapping[str, str | None] | None = None,
    sample_identity: Callable[[pl.DataFrame], pl.Series] | None = None,
) -> None:
    """Check the run folder before it is published.

    - val and test are byte-identical to what the split wrote, and hold no synthetic sample;
    - no val/test sample has an exact duplicate (by `sample_keys`) among original train samples;
    - the original train samples are exactly split rows (all of them unless the sampler
      removes rows);
    - class counts in the files match `manifest` (manifest.json as written);
    - no synthetic sample is identical (by `sample_identity`, the modality's) to an original
      sample of another class in train, val or test.

    `output_columns` maps a train.parquet column to the split column it holds (None: a column
    the modality rewrites, such as an image's path inside the run folder).

    Raises:
        InvariantViolation: naming the invariant and the file that breaks it.
    """
    now = holdout_hashes(run_dir)
    for name, digest in holdout_sha256.items():
        if now.get(name) != digest or manifest["files"].get(name) != digest:
            _fail(f"{name} changed after the split wrote it")
    if set(now) != set(holdout_sha256):
        _fail(f"val/test files changed after the split: {sorted(set(now) ^ set(holdout_sha256))}")

    # Read back a batch at a time: a streamed table's outputs need not fit in memory.
    train = pl.scan_parquet(run_dir / "train.parquet")
    originals = train.filter(~pl.col(SYNTHETIC)).drop(SYNTHETIC)
    holdouts = {split: pl.scan_parquet(run_dir / f"{split}.parquet") for split in HOLDOUT_SPLITS}
    for split, frame in holdouts.items():
        if SYNTHETIC in frame.collect_schema().names() and _collect(frame, pl.col(SYNTHETIC).any()):
            _fail(f"{split}.parquet holds synthetic samples")
    split_train = split_train.lazy()
    _check_originals(_as_split_columns(originals, output_columns or {}), split_train, manifest)
    _check_no_leak(originals, holdouts, sample_keys)
    _check_counts(label, train, holdouts, manifest)
    if sample_identity is not None:
        _check_no_contradiction(label, train, originals, holdouts, sample_identity)


def _collect(frame: pl.LazyFrame, expression: pl.Expr):
    return frame.select(expression).collect(engine="streaming").item()


def _as_split_columns(frame: pl.LazyFrame, output_columns: Mapping[str, str | None]):
    dropped = [name for name, target in output_columns.items() if target is None]
    renamed = {name: target for name, target in output_columns.items() if target is not None}
    return frame.drop(dropped, strict=False).rename(renamed, strict=False)


def _row_hashes(frame: pl.LazyFrame) -> pl.Series:
    hashes = [batch.hash_rows(seed=0) for batch in batches(frame, rows=BATCH_ROWS)]
    return pl.concat(hashes) if hashes else pl.Series("hash", [], dtype=pl.UInt64)


def _check_originals(originals: pl.LazyFrame, split_train: pl.LazyFrame, manifest: Mapping) -> None:
    available_columns = split_train.collect_schema().names()
    columns = [name for name in originals.collect_schema().names() if name in available_columns]
    kept = _row_hashes(originals.select(columns)).value_counts()
    available = _row_hashes(split_train.select(columns)).value_counts()
    joined = kept.join(available, on=kept.columns[0], how="left", suffix="_split")
    if joined["count_split"].is_null().any() or (joined["count"] > joined["count_split"]).any():
        _fail("train.parquet holds an original sample that is not in the training split")
    removed = row_count(split_train) - row_count(originals)
    if removed != manifest["rows"].get("removed_by_sampler", 0):
        _fail(
            f"train.parquet lost {removed} original samples, but the manifest records "
            f"{manifest['rows'].get('removed_by_sampler', 0)} removed by the sampler"
        )


def _check_no_leak(originals, holdouts, sample_keys) -> None:
    train_keys = [sample_keys(batch) for batch in batches(originals, rows=BATCH_ROWS)]
    if not train_keys or any(keys is None for keys in train_keys):
        return
    known = pl.concat(train_keys).implode()
    for split, frame in holdouts.items():
        for batch in batches(frame, rows=BATCH_ROWS):
            keys = sample_keys(batch)
            if keys is not None and keys.is_in(known).any():
                _fail(f"a sample of {split}.parquet has an exact duplicate in train")


def _check_no_contradiction(label, train, originals, holdouts, sample_identity) -> None:
    # The synthetic samples' distinct identities in memory; the originals a batch at a time.
    synthetic = [
        labelled_identities(sample_identity(batch), batch[label])
        for batch in batches(train.filter(pl.col(SYNTHETIC)), rows=BATCH_ROWS)
    ]
    if not synthetic:
        return
    known = pl.concat(synthetic).unique()
    if known.is_empty():
        return
    for split, frame in {"train": originals, **holdouts}.items():
        for batch in batches(frame, rows=BATCH_ROWS):
            if contradicting(sample_identity(batch), batch[label], originals=known).any():
                _fail(
                    "train.parquet holds a synthetic sample identical to an original sample "
                    f"of another class in {split}.parquet"
                )


def _check_counts(label, train, holdouts, manifest) -> None:
    expected = {"train": manifest["counts"]["after"]["train"]}
    expected.update({split: manifest["counts"]["before"][split] for split in HOLDOUT_SPLITS})
    frames = {"train": train, **holdouts}
    for split, frame in frames.items():
        if counts_by_name(label_counts(frame, label)) != expected[split]:
            _fail(f"class counts of {split}.parquet differ from manifest.json")


def _fail(problem: str) -> None:
    msg = f"run invariant broken: {problem}; the run was not published (please report this)"
    raise InvariantViolation(msg)
