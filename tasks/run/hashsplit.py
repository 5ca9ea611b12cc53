"""`split.method: hash`: a sample's split follows from its key and the seed, so rows keep their
split as the table grows.

Each key (`Modality.hash_keys`: the group, the content or the id) gets a position in [0, 1)
from `tasks.run.keyhash`; the split is the fraction band it falls in (train below
`fractions.train`, then val, then test). A key never changes band while the seed and the
fractions stay, whatever rows arrive or leave. Per class, the share in each split is a
binomial draw: with n keys in a class, the share of a split of fraction f is within
`tolerance(n, f)` (4 standard deviations) of f except with probability under 1e-4.

Small classes. A class of few keys may have no key in a band (3 keys all land in train with
probability 0.34 at 70/15/15). Then its key nearest that band (by position) moves into it,
from train first, so every class keeps a row in every split as the stratified split does.
Such a move is a *pin*: its key and split go to the manifest (`split.pinned`), and every later
run of the same seed and fractions reads the pins of the run `latest` points at and keeps
them, needed or not. So a pinned test sample stays in test when rows arrive that would make
the pin unnecessary: without that memory no rule can both give small classes a holdout
sample and never move one back (a sample would have to stay pinned in every subset of
tomorrow's rows that needs it, which for a growing class is eventually most of its rows).
What can still move an old sample into train: a changed seed or fractions, a `latest` that
was rolled back past the night that pinned it, or rows deleted until a class has no train
row left (then a holdout key is pinned into train).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rebalance.errors import DataError
from tasks.core.classes import check_class_sizes, class_counts
from tasks.core.columns import SPLITS
from tasks.run.keyhash import unit_interval

TRAIN, VAL, TEST = range(len(SPLITS))
# Where a class's missing split takes a key from, in order of preference.
DONORS = {TEST: (TRAIN, VAL), VAL: (TRAIN, TEST), TRAIN: (VAL, TEST)}
# Standard deviations of the binomial share that `tolerance` allows.
SIGMAS = 4.0


@dataclass(frozen=True)
class HashAssignment:
    """Each row's split (an index into SPLITS), and the keys pinned away from their band."""

    assignment: np.ndarray
    # key hash -> split index, for every key not in its band (pins read and new).
    pinned: dict[int, int]


def tolerance(keys: int, fraction: float, /) -> float:
    """How far a class's share of a split may lie from `fraction` with `keys` keys: four
    binomial standard deviations, 4 * sqrt(f * (1 - f) / n) (0.058 for f = 0.7 and 1,000
    keys, 0.018 for 10,000)."""
    return SIGMAS * math.sqrt(fraction * (1 - fraction) / keys)


def bands(hashes: np.ndarray, /, *, fractions: Mapping[str, float], seed: int) -> np.ndarray:
    """The split each key's position falls in, before any pin."""
    return _bands(unit_interval(hashes, seed=seed), fractions)


def _bands(positions: np.ndarray, fractions: Mapping[str, float]) -> np.ndarray:
    edges = np.cumsum([fractions[name] for name in SPLITS])[:-1]
    return np.searchsorted(edges, positions, side="right").astype(np.int8)


def assign_hash_splits(
    labels: pl.Series,
    hashes: np.ndarray,
    /,
    *,
    fractions: Mapping[str, float],
    seed: int,
    pinned: Mapping[int, int] | None = None,
) -> HashAssignment:
    """Every row's split from its key's hash and the seed, plus the pins (see the module).

    Args:
        labels: The label of each row.
        hashes: Each row's key hash (`tasks.run.keyhash.key_hash`); equal keys, one split.
        fractions: Share of each split.
        seed: `split.seed`.
        pinned: Pins of the run `latest` points at (`pins_in`); kept whether needed or not.

    Raises:
        DataError: a class has too few keys to appear in every split.
    """
    counts = class_counts(labels)
    check_class_sizes(counts, label=labels.name)
    positions = unit_interval(hashes, seed=seed)
    base = _bands(positions, fractions)
    assignment = base.copy()
    kept = dict(pinned or {})
    if kept:
        known = np.fromiter(kept, dtype=np.uint64, count=len(kept))
        order = np.argsort(known)
        known = known[order]
        splits = np.fromiter(kept.values(), dtype=np.int8, count=len(kept))[order]
        where = np.minimum(np.searchsorted(known, hashes), known.size - 1)
        hit = known[where] == hashes
        assignment[hit] = splits[where[hit]]
    class_index = _class_index(labels, list(counts))
    for position in range(len(counts)):
        rows = np.flatnonzero(class_index == position)
        for target in (TEST, VAL, TRAIN):
            key = _key_to_move(hashes[rows], assignment[rows], positions[rows], target)
            if key is not None:
                assignment[hashes == key] = target
    _check_every_split_has_every_class(assignment, class_index, hashes, list(counts), labels.name)
    return HashAssignment(assignment, _pins(hashes, assignment, base, kept))


def _class_index(labels: pl.Series, classes: list[object]) -> np.ndarray:
    lookup = pl.Series(labels.name, classes, dtype=labels.dtype).to_frame()
    joined = labels.to_frame().join(
        lookup.with_row_index("_class"), on=labels.name, how="left", maintain_order="left"
    )
    return joined["_class"].to_numpy()


def _pins(hashes, assignment, base, kept: Mapping[int, int]) -> dict[int, int]:
    """Every key not in its band tonight, plus the pins read of keys absent tonight (the row
    may come back)."""
    pins = {}
    if kept:
        known = np.fromiter(kept, dtype=np.uint64, count=len(kept))
        pins = {int(key): kept[int(key)] for key in known[~np.isin(known, hashes)]}
    moved = np.flatnonzero(assignment != base)
    keys, first = np.unique(hashes[moved], return_index=True)
    pins.update({int(key): int(assignment[moved[at]]) for key, at in zip(keys, first, strict=True)})
    return pins


def _key_to_move(hashes, assignment, positions, target) -> np.uint64 | None:
    """The key of one class to move into `target` when the class has no row there: from the
    first donor split that keeps a row of the class without it, the key nearest `target`."""
    present = np.bincount(assignment, minlength=len(SPLITS))
    if present[target]:
        return None
    for donor in DONORS[target]:
        in_donor = assignment == donor
        keys, rows_of_key = np.unique(hashes[in_donor], return_counts=True)
        spare = keys[rows_of_key < present[donor]]
        if spare.size == 0:
            continue
        candidates = np.isin(hashes, spare) & in_donor
        nearest = np.argmax if target > donor else np.argmin
        return hashes[candidates][nearest(positions[candidates])]
    return None


def _check_every_split_has_every_class(assignment, class_index, hashes, classes, label) -> None:
    for position, name in enumerate(classes):
        rows = class_index == position
        present = np.bincount(assignment[rows], minlength=len(SPLITS))
        if (present == 0).any():
            empty = [SPLITS[index] for index in np.flatnonzero(present == 0)]
            keys = np.unique(hashes[rows]).size
            msg = (
                f"class {name!r} of label '{label}' ({int(rows.sum())} rows, {keys} distinct "
                f"keys) has no row in {', '.join(empty)} under split.method: hash: its rows "
                "share too few keys (group_column or duplicate rows); add rows, set "
                "split.keep_duplicates_together: false, or use split.method: stratified"
            )
            raise DataError(msg)


def pins_in(manifest: Path, /, *, fractions: Mapping[str, float], seed: int) -> dict[int, int]:
    """The pins of a published run (`<dataset>/latest/manifest.json`), when it split by hash
    with this seed and these fractions (other bands make them meaningless); else none.

    Raises:
        DataError: the manifest exists but is not JSON (its pins would be lost silently).
    """
    if not manifest.is_file():
        return {}
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError as exc:
        msg = (
            f"{manifest} is not valid JSON ({exc}), so the samples it pins to val or test under "
            "split.method: hash are unknown; restore it or roll `latest` back to an intact run"
        )
        raise DataError(msg) from None
    return pins_of(recorded, fractions=fractions, seed=seed)


def pins_of(
    manifest: Mapping[str, Any], /, *, fractions: Mapping[str, float], seed: int
) -> dict[int, int]:
    """`pins_in` for a manifest already read."""
    split = manifest.get("split") if isinstance(manifest, Mapping) else None
    if not isinstance(split, dict) or split.get("method") != "hash":
        return {}
    same_fractions = all(
        math.isclose(split.get("fractions", {}).get(name, -1), fractions[name]) for name in SPLITS
    )
    if split.get("seed") != seed or not same_fractions:
        return {}
    return {int(key, 16): SPLITS.index(name) for key, name in split.get("pinned", {}).items()}


def pins_for_manifest(pinned: Mapping[int, int], /) -> dict[str, str]:
    """Pins as `manifest.json` records them: key hash in 16 hex digits -> split name."""
    return {f"{key:016x}": SPLITS[split] for key, split in sorted(pinned.items())}
