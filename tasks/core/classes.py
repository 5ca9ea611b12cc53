"""Counts per class: how many samples each label value has, and whether that is enough."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from rebalance.errors import DataError
from tasks.core.columns import SPLITS


def class_counts(labels: pl.Series, /) -> dict[object, int]:
    """Rows per class, classes in sorted order."""
    counts = labels.value_counts(sort=False).sort(labels.name)
    return dict(zip(counts[labels.name].to_list(), counts["count"].to_list(), strict=True))


def label_counts(frame: pl.DataFrame | pl.LazyFrame, label: str, /) -> dict[object, int]:
    """`class_counts` of a frame's label column; a LazyFrame reads that column only."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.select(label).collect(engine="streaming")
    return class_counts(frame[label])


def counts_by_name(counts: Mapping[object, int], /) -> dict[str, int]:
    """Class counts with string keys (JSON object keys are strings)."""
    return {str(name): int(count) for name, count in counts.items()}


def imbalance_ratio(counts: Mapping[object, int], /) -> float:
    """Largest class count over smallest (1.0 is perfectly balanced)."""
    present = [count for count in counts.values() if count > 0]
    return max(present) / min(present) if present else float("nan")


def check_class_sizes(counts: Mapping[object, int], /, *, label: str) -> None:
    """Fail unless there are two classes and each can put a row in every split.

    Raises:
        DataError: no rows, or naming the label column's only class, or the smallest class
            and its count.
    """
    if not counts:
        msg = (
            f"label column '{label}' has no rows left to split; check that the source holds "
            "data rows and that validation did not drop them all"
        )
        raise DataError(msg)
    if len(counts) < 2:
        only = next(iter(counts))
        msg = (
            f"label column '{label}' has a single class ({only!r}); rebalancing needs at "
            "least 2 classes: check `label` and the data"
        )
        raise DataError(msg)
    too_small = {name: count for name, count in counts.items() if count < len(SPLITS)}
    if too_small:
        listed = ", ".join(f"{name!r} ({count} rows)" for name, count in too_small.items())
        msg = (
            f"class {listed} of label '{label}' is too small to appear in train, val and "
            f"test; each class needs at least {len(SPLITS)} rows: add rows or drop the class"
        )
        raise DataError(msg)
