"""The limit on what `validation.null_policy: drop` may remove, shared by every modality.

A drop is judged on the rows read: more than `validation.max_drop_fraction` of them fails
the run before the split, and a drop that leaves a class too small to split says so
instead of blaming the data's classes. Both messages name the columns whose nulls caused
the drop, most nulls first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rebalance.errors import DataError, ValidationFailed
from tasks.core.classes import check_class_sizes
from tasks.core.columns import SPLITS

# Columns named in a message; the rest are counted ("and 3 more").
SHOWN_COLUMNS = 5


def tolerated_nulls(null_policy: str, max_drop_fraction: float, /) -> float | None:
    """The share of null rows the null expectations accept: the drop limit under `drop`
    (those rows are removed, not failed), None under `fail` (any null fails)."""
    return max_drop_fraction if null_policy == "drop" else None


def columns_with_nulls(null_counts: Mapping[str, int], /) -> str:
    """The columns with nulls, most first, each with its count, the first `SHOWN_COLUMNS`
    named and the others counted: `'a' (9), 'b' (2) and 4,998 more`.

    A table of thousands of columns may have nulls in most of them: a message or a log
    line names a few, and result.json and the Data Docs have them all.
    """
    ranked = sorted(
        ((name, count) for name, count in null_counts.items() if count),
        key=lambda item: -item[1],  # stable: equal counts keep the columns' order
    )
    listed = ", ".join(f"'{name}' ({count:,})" for name, count in ranked[:SHOWN_COLUMNS])
    rest = len(ranked) - SHOWN_COLUMNS
    return f"{listed} and {rest:,} more" if rest > 0 else listed


@dataclass(frozen=True)
class NullDrop:
    """What a `drop` null policy removed.

    Attributes:
        rows_read: Rows validated (the rows read from the source).
        rows_dropped: Rows removed for a null in a checked column; a row with nulls in
            several columns counts once.
        null_counts: Nulls per checked column (the columns without nulls may be left out).
        fix: What the user can do about those nulls, as the end of a sentence ("fill
            them or leave the column out of `features`").
    """

    rows_read: int
    rows_dropped: int
    null_counts: Mapping[str, int]
    fix: str

    @property
    def share(self) -> float:
        """Rows dropped over rows read (0.0 for no rows)."""
        return self.rows_dropped / self.rows_read if self.rows_read else 0.0

    def columns(self) -> str:
        """The columns with nulls, most first, each with its count: `'a' (9), 'b' (2)`."""
        return columns_with_nulls(self.null_counts)

    def summary(self) -> str:
        """`validation.null_policy: drop removed 9 of the 10 rows read (90.0%) for nulls in
        'a' (9)`, the part of a message that names the drop."""
        return (
            f"validation.null_policy: drop removed {self.rows_dropped:,} of the "
            f"{self.rows_read:,} rows read ({self.share:.1%}) for nulls in {self.columns()}"
        )


def check_drop_fraction(drop: NullDrop, /, *, max_fraction: float) -> None:
    """Fail when the drop removes more than `max_fraction` of the rows read.

    Exactly `max_fraction` passes: 20 dropped of 100 read is within a limit of 0.2 (the
    division is exact for such a case, as the share and the limit round to the same float).

    Raises:
        ValidationFailed: naming the share and count, the limit and its key, the columns
            with the most nulls and their counts, and the fix.
    """
    if drop.share <= max_fraction:
        return
    msg = (
        f"validation.null_policy: drop would remove {drop.share:.1%} of the rows read "
        f"({drop.rows_dropped:,} of {drop.rows_read:,}), more than "
        f"validation.max_drop_fraction {max_fraction:g} allows, mostly for nulls in "
        f"{drop.columns()}: {drop.fix}, or raise validation.max_drop_fraction (at most 1) "
        "to accept the loss"
    )
    raise ValidationFailed(msg)


def check_classes_left(
    counts: Mapping[object, int],
    /,
    *,
    read_counts: Mapping[object, int],
    label: str,
    drop: NullDrop,
) -> None:
    """Fail, naming the drop, when the classes read could be split but those left cannot.

    A class the drop emptied counts as too small, even if two others are left: a class must
    not vanish from the outputs unnoticed. Does nothing when nothing was dropped, when no
    row is left (the caller says so), or when the classes read could not be split either
    (`check_class_sizes` then says why, as without a drop): the drop is blamed only for
    what it caused. A null label is not a class.

    Raises:
        DataError: the drop left a single class (naming the classes it emptied), or left a
            class fewer rows than the splits need (naming it, with its rows left and read).
    """
    read = {name: count for name, count in read_counts.items() if not _is_missing(name)}
    if not drop.rows_dropped or not counts or _cannot_split(read, label):
        return
    short = {name: count for name, count in read.items() if counts.get(name, 0) < len(SPLITS)}
    if not short:
        return
    if len(counts) < 2:
        (only,) = counts
        emptied = ", ".join(
            f"{name!r} ({count:,} rows read)" for name, count in read.items() if name not in counts
        )
        problem = f"left label '{label}' a single class ({only!r}) by emptying {emptied}"
    else:
        listed = ", ".join(
            f"{name!r} ({counts.get(name, 0):,} of {count:,} rows read left)"
            for name, count in short.items()
        )
        problem = (
            f"left class {listed} of label '{label}' too small to appear in train, val and "
            f"test (each class needs at least {len(SPLITS)} rows)"
        )
    msg = f"{drop.summary()}, which {problem}: {drop.fix}"
    raise DataError(msg)


def _cannot_split(counts: Mapping[object, int], label: str) -> bool:
    """Whether `check_class_sizes` refuses these classes."""
    try:
        check_class_sizes(counts, label=label)
    except DataError:
        return True
    return False


def _is_missing(name: object) -> bool:
    # A null label, or a float label's NaN (not equal to itself).
    return name is None or name != name
