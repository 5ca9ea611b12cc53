"""Synthetic table rows identical to an original row of another class: redrawn, else dropped.

On discrete features SMOTEN and SMOTENC often write a synthetic row whose feature values
equal those of a real row of another class (the mode of a few neighbours' categories is
what the majority looks like too), and RandomOverSampler copies such a row when the input
itself holds identical features under two labels. Such a row is label noise: it is removed.
Samplers that can oversample a given count per class (`REDRAWS`: a dict
`sampling_strategy`) then draw again for the classes that lost rows, with a `random_state`
derived from the run's seed and the round, for at most `ROUNDS` rounds; the first draws that
contradict nothing replace the removed rows, and what is still missing after the last round
is dropped. Combined and cleaning samplers (SMOTEENN, SMOTETomek) and ClusterCentroids only
drop. Identity is `tasks.core.conflicts.table_identity` (the modality's `sample_identity`);
the originals are the training split's rows and val's and test's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import polars as pl

from tasks.core.classes import class_counts
from tasks.core.columns import Columns
from tasks.core.conflicts import (
    TABLE_IDENTITY,
    Conflicts,
    Identify,
    contradicting,
    labelled_identities,
    table_identity,
)
from tasks.core.frames import batches

# Over-samplers whose `sampling_strategy` takes a count per class (the SMOTE family,
# ADASYN, RandomOverSampler): they can draw replacements for the classes that lost rows.
REDRAWS = frozenset(
    {
        "SMOTE",
        "SMOTENC",
        "SMOTEN",
        "BorderlineSMOTE",
        "SVMSMOTE",
        "KMeansSMOTE",
        "ADASYN",
        "RandomOverSampler",
    }
)
ROUNDS = 3
# A round asks for this many times the rows still missing (at most as many as the first
# draw made for the class, so a redraw never needs more memory than the first draw): the
# contradicting share of a draw is often large, and surplus rows are simply not taken.
OVERDRAW = 2
_RANK = "__rebalance_rank"
_LIMIT = "__rebalance_limit"

# Fresh synthetic rows of the given classes (class -> how many), drawn with a random_state.
Draw = Callable[[dict[Any, int], int], pl.DataFrame | None]


def round_seed(seed: int, round_index: int, /) -> int:
    """The `random_state` of a redraw: from the run's seed and the round, the same on reruns."""
    return int(np.random.SeedSequence([seed, round_index]).generate_state(1)[0])


def replace_contradicting(
    synthetic: pl.DataFrame | None,
    /,
    *,
    originals: pl.DataFrame,
    label: str,
    identify: Identify,
    seed: int,
    draw: Draw | None,
) -> tuple[pl.DataFrame | None, Conflicts]:
    """Remove synthetic rows identical to an original of another class, and redraw them.

    Args:
        synthetic: The synthetic rows, with the training dtypes (None: there are none).
        originals: `labelled_identities` of the originals (train, val, test).
        label: The label column.
        identify: The rows' identity (`Modality.sample_identity`).
        seed: The run's `random_state`; each round's is derived from it (`round_seed`).
        draw: Fresh rows of some classes, or None for a sampler that cannot draw a count
            per class (then contradicting rows are dropped).

    Returns:
        The synthetic rows that contradict nothing (the first draw's kept rows, then the
        replacements in the order drawn), and the counts per class.
    """
    if synthetic is None or synthetic.is_empty():
        return synthetic, Conflicts(TABLE_IDENTITY)
    bad = contradicting(identify(synthetic), synthetic[label], originals=originals)
    if not bad.any():
        return synthetic, Conflicts(TABLE_IDENTITY)
    found = class_counts(synthetic.filter(bad)[label])
    replacements, missing = draw_replacements(
        found,
        class_counts(synthetic[label]),
        originals=originals,
        label=label,
        identify=identify,
        seed=seed,
        draw=draw,
    )
    parts = [synthetic.filter(~bad), *replacements]
    return pl.concat(parts), Conflicts.counted(TABLE_IDENTITY, found=found, dropped=missing)


def draw_replacements(
    found: Mapping[Any, int],
    made: Mapping[Any, int],
    /,
    *,
    originals: pl.DataFrame,
    label: str,
    identify: Identify,
    seed: int,
    draw: Draw | None,
) -> tuple[list[pl.DataFrame], dict[Any, int]]:
    """The rounds of `replace_contradicting`: fresh rows for the `found` contradicting rows
    of each class (of `made` synthetic rows), shared with the streamed SMOTE path.

    Returns:
        The replacements that contradict nothing, in the order drawn, and the rows still
        missing per class (dropped).
    """
    missing = dict(found)
    parts = []
    for round_index in range(ROUNDS if draw is not None else 0):
        wanted = _wanted(missing, made)
        if not wanted:
            break
        try:
            fresh = draw(wanted, round_seed(seed, round_index))
        except (ValueError, RuntimeError):
            break  # the sampler cannot draw for these classes alone: the rest is dropped
        if fresh is None or fresh.is_empty():
            continue
        fresh = fresh.filter(~contradicting(identify(fresh), fresh[label], originals=originals))
        taken = _first_per_class(fresh, label, missing)
        parts.append(taken)
        for name, count in class_counts(taken[label]).items():
            missing[name] -= count
    return parts, missing


def replace_contradicting_copies(
    extra: np.ndarray,
    /,
    *,
    train: pl.LazyFrame,
    labels: pl.Series,
    holdout: pl.DataFrame | None,
    columns: Columns,
    estimator: Any,
    seed: int,
    batch_rows: int,
) -> tuple[np.ndarray, Conflicts]:
    """`replace_contradicting` for RandomOverSampler on a streamed table: copies by position.

    A copy contradicts an original when the row it copies has the features of an original
    of another class (identical features under two labels in the input). Such copies are
    removed, and RandomOverSampler draws again from the labels (positions stand in for X),
    as `replace_contradicting` does in memory: the same rows come out, in training order.

    Args:
        extra: Copies to write of each training row (by position); not changed.
        train: The training split on disk.
        labels: Its label column, in memory.
        holdout: `labelled_identities` of val and test.
        columns: The run's columns.
        estimator: The fitted RandomOverSampler.
        seed: The run's `random_state`.
        batch_rows: Rows read at once to compute the training rows' identities.

    Returns:
        The copies to write of each training row, and the counts per class.
    """
    from sklearn.base import clone

    if not extra.any():
        return extra, Conflicts(TABLE_IDENTITY)
    features = train.select(columns.features)
    keys = [table_identity(batch, columns.features) for batch in batches(features, rows=batch_rows)]
    identities = pl.concat(keys)
    originals = labelled_identities(identities, labels)
    if holdout is not None:
        originals = pl.concat([originals, holdout.cast(originals.schema)]).unique()
    bad_rows = contradicting(identities, labels, originals=originals).to_numpy()
    if not (extra[bad_rows] > 0).any():
        return extra, Conflicts(TABLE_IDENTITY)
    values = labels.to_numpy()
    found = _sum_by_class(np.where(bad_rows, extra, 0), values)
    made = _sum_by_class(extra, values)
    missing = dict(found)
    extra = np.where(bad_rows, 0, extra)
    sizes = class_counts(labels)
    positions = np.arange(values.size).reshape(-1, 1)
    for round_index in range(ROUNDS):
        wanted = _wanted(missing, made)
        if not wanted:
            break
        fresh = clone(estimator).set_params(
            sampling_strategy={name: sizes[name] + count for name, count in wanted.items()},
            random_state=round_seed(seed, round_index),
        )
        try:
            fresh.fit_resample(positions, values)
        except (ValueError, RuntimeError):
            break
        drawn = np.asarray(fresh.sample_indices_[values.size :])
        drawn = drawn[~bad_rows[drawn]]
        for name in wanted:
            taken = drawn[values[drawn] == name][: missing[name]]
            np.add.at(extra, taken, 1)
            missing[name] -= taken.size
    return extra, Conflicts.counted(TABLE_IDENTITY, found=found, dropped=missing)


def _wanted(missing: Mapping[Any, int], made: Mapping[Any, int]) -> dict[Any, int]:
    return {name: min(OVERDRAW * count, made[name]) for name, count in missing.items() if count}


def _first_per_class(frame: pl.DataFrame, label: str, limits: Mapping[Any, int]) -> pl.DataFrame:
    """The first `limits[class]` rows of each class, in order."""
    table = pl.DataFrame(
        {label: list(limits), _LIMIT: list(limits.values())},
        schema={label: frame.schema[label], _LIMIT: pl.Int64},
    )
    return (
        frame.with_columns(pl.int_range(pl.len()).over(label).alias(_RANK))
        .join(table, on=label, how="left", maintain_order="left")
        .filter(pl.col(_RANK) < pl.col(_LIMIT))
        .drop(_RANK, _LIMIT)
    )


def _sum_by_class(counts: np.ndarray, labels: np.ndarray) -> dict[Any, int]:
    names, inverse = np.unique(labels, return_inverse=True)
    sums = np.bincount(inverse, weights=counts, minlength=names.size)
    return {name: int(total) for name, total in zip(names.tolist(), sums, strict=True)}
