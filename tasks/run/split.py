"""Stratified, seeded train/val/test split that keeps groups (and duplicates) together.

With `hash_keys` (`split.method: hash`) a row's split follows from its key's hash instead, so
rows keep their split as the table grows (`tasks.run.hashsplit`).

A table in memory is split by `split_frame`. A streamed one (larger than memory) by
`split_streaming`: what must be in memory at once is one batch of rows plus two values per
row, the label and the key that keeps duplicates (or a group) in one split. Both compute the
assignment with `assign_splits`, so every row lands in the same split either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from rebalance.errors import DataError
from tasks.core.classes import check_class_sizes, class_counts
from tasks.core.columns import SPLITS
from tasks.core.frames import SPLIT_TRAIN_FILE, batches, rows_at, sink_parquet
from tasks.run.hashsplit import assign_hash_splits
from tasks.run.keyhash import key_hash


@dataclass(frozen=True)
class SplitResult:
    """The three splits (rows in input order) and how many rows were tied together."""

    train: pl.DataFrame | pl.LazyFrame
    val: pl.DataFrame | pl.LazyFrame
    test: pl.DataFrame | pl.LazyFrame
    grouped_rows: int
    groups: int
    # sha256 of the val/test outputs as the split task wrote them (checked before publishing).
    holdout_sha256: dict[str, str] = field(default_factory=dict)
    # Under split.method hash: key hash -> split index of keys not in their hash's band.
    pinned: dict[int, int] = field(default_factory=dict)

    def frames(self) -> dict[str, pl.DataFrame | pl.LazyFrame]:
        """The splits by name, in SPLITS order."""
        return {"train": self.train, "val": self.val, "test": self.test}


def split_frame(
    frame: pl.DataFrame,
    /,
    *,
    label: str,
    fractions: Mapping[str, float],
    seed: int,
    group_keys: pl.Series | None = None,
    hash_keys: pl.DataFrame | None = None,
    pinned: Mapping[int, int] | None = None,
) -> SplitResult:
    """Split rows into train/val/test, stratified by label, deterministic for a seed.

    Rows that share a group key (a `group_column` value, or identical features) land in
    one split. Multi-row groups are placed first, each into the split that most needs
    its classes; single rows then fill every class up to its target count per split.
    With `hash_keys` (one row of key values per row), each row goes where its key's hash
    puts it instead, keeping `pinned` (`tasks.run.hashsplit`); `group_keys` is then unused.

    Raises:
        DataError: a class cannot appear in every split (too few rows, groups or keys).
    """
    if hash_keys is not None:
        assigned = assign_by_hash(
            frame[label], key_hash(hash_keys), fractions=fractions, seed=seed, pinned=pinned
        )
    else:
        assigned = assign_splits(
            frame[label], fractions=fractions, seed=seed, group_keys=group_keys
        )
    parts = {
        name: frame.filter(pl.Series(assigned.assignment == index))
        for index, name in enumerate(SPLITS)
    }
    return SplitResult(
        **parts, grouped_rows=assigned.grouped_rows, groups=assigned.groups, pinned=assigned.pinned
    )


@dataclass(frozen=True)
class Assignment:
    """Each row's split (an index into SPLITS), and how many rows were tied together."""

    assignment: np.ndarray
    grouped_rows: int
    groups: int
    pinned: dict[int, int] = field(default_factory=dict)

    def rows(self, split: str) -> np.ndarray:
        """Positions of the rows in `split`, in input order."""
        return np.flatnonzero(self.assignment == SPLITS.index(split))


def assign_splits(
    labels: pl.Series,
    /,
    *,
    fractions: Mapping[str, float],
    seed: int,
    group_keys: pl.Series | None = None,
) -> Assignment:
    """`split_frame`'s choice of split for every row, from the labels and group keys alone.

    Only these two columns are needed, so a table that does not fit in memory can be split
    from them (`split_streaming`) with the same result as `split_frame`.

    Raises:
        DataError: a class cannot appear in every split (too few rows or groups).
    """
    counts = class_counts(labels)
    check_class_sizes(counts, label=labels.name)
    classes = list(counts)
    class_index = _class_index(labels, classes)
    targets = np.array([_allocate(counts[name], fractions) for name in classes]).T  # split x class
    rng = np.random.default_rng(seed)

    assignment = np.full(labels.len(), -1, dtype=np.int8)
    remaining = targets.astype(np.float64)
    grouped_rows = groups = 0
    if group_keys is not None:
        group_ids = group_keys.rank("dense").to_numpy().astype(np.int64) - 1
        sizes = np.bincount(group_ids)
        multi = np.flatnonzero(sizes > 1)
        if multi.size:
            grouped_rows, groups = int(sizes[multi].sum()), int(multi.size)
            _place_groups(group_ids, sizes, multi, class_index, targets, remaining, assignment, rng)

    for position in range(len(classes)):
        free = np.flatnonzero((assignment == -1) & (class_index == position))
        free = rng.permutation(free)
        wanted = _fill_counts(free.size, remaining[:, position], targets[:, position])
        bounds = np.cumsum(wanted)[:-1]
        for split_index, rows in enumerate(np.split(free, bounds)):
            assignment[rows] = split_index

    _check_every_split_has_every_class(assignment, class_index, classes, counts, labels.name)
    return Assignment(assignment, grouped_rows, groups)


def assign_by_hash(
    labels: pl.Series,
    hashes: np.ndarray,
    /,
    *,
    fractions: Mapping[str, float],
    seed: int,
    pinned: Mapping[int, int] | None = None,
) -> Assignment:
    """`assign_hash_splits` with the count of rows that share a key (kept together).

    Raises:
        DataError: a class cannot appear in every split (too few keys).
    """
    assigned = assign_hash_splits(labels, hashes, fractions=fractions, seed=seed, pinned=pinned)
    _, sizes = np.unique(hashes, return_counts=True)
    shared = sizes[sizes > 1]
    return Assignment(assigned.assignment, int(shared.sum()), int(shared.size), assigned.pinned)


def _class_index(labels: pl.Series, classes: list[object]) -> np.ndarray:
    lookup = pl.DataFrame({labels.name: classes, "_class": range(len(classes))}).cast(
        {labels.name: labels.dtype}
    )
    joined = labels.to_frame().join(lookup, on=labels.name, how="left", maintain_order="left")
    return joined["_class"].to_numpy()


def _allocate(total: int, fractions: Mapping[str, float]) -> list[int]:
    """Largest-remainder split of `total` rows with at least one row per split."""
    shares = np.array([total * fractions[name] for name in SPLITS])
    counts = np.floor(shares).astype(int)
    order = np.argsort(-(shares - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    while (counts == 0).any() and counts.max() > 1:
        counts[np.argmax(counts)] -= 1
        counts[np.flatnonzero(counts == 0)[0]] += 1
    return counts.tolist()


def _place_groups(group_ids, sizes, multi, class_index, targets, remaining, assignment, rng):
    """Greedily put each multi-row group into the split that most needs its classes."""
    in_multi = np.isin(group_ids, multi)
    rows = np.flatnonzero(in_multi)
    # Dense index of each multi-row group, and its per-class row counts.
    position = np.full(sizes.size, -1)
    position[multi] = np.arange(multi.size)
    group_of_row = position[group_ids[rows]]
    per_class = np.zeros((multi.size, targets.shape[1]))
    np.add.at(per_class, (group_of_row, class_index[rows]), 1)
    # Random order for the seed, then largest first: big groups are the hardest to place.
    order = rng.permutation(multi.size)
    order = order[np.argsort(-sizes[multi][order], kind="stable")]
    scale = np.maximum(targets, 1)
    chosen = np.empty(multi.size, dtype=np.int8)
    for group in order:
        need = per_class[group]
        split_index = int(np.argmax((remaining / scale) @ need))
        remaining[split_index] -= need
        chosen[group] = split_index
    assignment[rows] = chosen[group_of_row]


def _fill_counts(available: int, remaining: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """How many of `available` single rows go to each split, to meet what remains."""
    wanted = np.maximum(remaining, 0)
    if available == 0:
        return np.zeros(len(SPLITS), dtype=int)
    if np.rint(wanted).sum() == available:
        return np.rint(wanted).astype(int)
    weights = wanted if wanted.sum() > 0 else targets.astype(np.float64)
    shares = available * weights / weights.sum()
    counts = np.floor(shares).astype(int)
    order = np.argsort(-(shares - counts), kind="stable")
    counts[order[: available - counts.sum()]] += 1
    return counts


def _check_every_split_has_every_class(assignment, class_index, classes, counts, label):
    for position, name in enumerate(classes):
        present = np.bincount(assignment[class_index == position], minlength=len(SPLITS))
        if (present == 0).any():
            empty = [SPLITS[index] for index in np.flatnonzero(present == 0)]
            msg = (
                f"class {name!r} of label '{label}' ({counts[name]} rows) has no row in "
                f"{', '.join(empty)}: its rows share too few groups (group_column or duplicate "
                "rows); add rows, or set split.keep_duplicates_together: false"
            )
            raise DataError(msg)


def split_streaming(
    frame: pl.LazyFrame,
    /,
    *,
    label: str,
    fractions: Mapping[str, float],
    seed: int,
    group_keys: Callable[[pl.DataFrame], pl.Series | None],
    run_dir: Path,
    batch_rows: int,
    hash_keys: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    pinned: Mapping[int, int] | None = None,
) -> SplitResult:
    """`split_frame` for a table read in batches; writes the three splits as parquet.

    val and test go to `<split>.parquet`, train to `SPLIT_TRAIN_FILE`; the result holds
    LazyFrames that scan them. With `hash_keys`, only each row's 8-byte key hash is kept
    from a batch, in place of its group key.

    Raises:
        DataError: a class cannot appear in every split (too few rows, groups or keys).
    """
    labels, keys = [], []
    for batch in batches(frame, rows=batch_rows):
        labels.append(batch[label])
        batch_keys = group_keys(batch) if hash_keys is None else key_hash(hash_keys(batch))
        if batch_keys is not None:
            keys.append(batch_keys)
    if hash_keys is not None:
        assigned = assign_by_hash(
            pl.concat(labels),
            np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64),
            fractions=fractions,
            seed=seed,
            pinned=pinned,
        )
    else:
        assigned = assign_splits(
            pl.concat(labels),
            fractions=fractions,
            seed=seed,
            group_keys=pl.concat(keys) if keys else None,
        )
    del labels, keys
    paths = {split: run_dir / f"{split}.parquet" for split in SPLITS}
    paths["train"] = run_dir / SPLIT_TRAIN_FILE
    for split, path in paths.items():
        sink_parquet(rows_at(frame, assigned.rows(split)), path)
    scans = {split: pl.scan_parquet(path) for split, path in paths.items()}
    return SplitResult(
        **scans, grouped_rows=assigned.grouped_rows, groups=assigned.groups, pinned=assigned.pinned
    )
