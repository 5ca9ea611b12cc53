"""Checks of a text dataset before it is split: nulls (Great Expectations) and bad texts.

Also what makes two texts the same (`normalise_text`): the split keeps such texts together,
the findings count them, and the paraphrase gate refuses a paraphrase equal to a training text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from rebalance.errors import DataError, ValidationFailed
from tasks.core.classes import check_class_sizes, class_counts
from tasks.core.columns import Columns
from tasks.core.contract import Checked
from validations.drops import NullDrop, check_classes_left, check_drop_fraction, tolerated_nulls
from validations.expectations import Declared, check_outcomes
from validations.null_check import check_nulls

# The private column in which reading marks, by row, why a text cannot be used as read
# (null when it can); validation reports or drops those rows.
PROBLEM = "_text_problem"
EMPTY = "empty or whitespace-only"
SHOWN_ROWS = 5


def normalise_text(text: str, /) -> str:
    """The form used for duplicate detection: case-folded, whitespace collapsed and stripped."""
    return " ".join(text.casefold().split())


def normalised_text_expr(column: str, /) -> pl.Expr:
    """`normalise_text` as a polars expression (same result for the duplicate check)."""
    return (
        pl.col(column)
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .fill_null("")
    )


@dataclass(frozen=True)
class TextFindings:
    """What validating a text dataset found, for the manifest (and `rebalance validate`)."""

    bad_texts_dropped: dict[str, int]
    bad_text_policy: str
    duplicate_text_rows: int
    duplicate_texts_across_classes: int

    def as_manifest(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validate_texts(
    frame: pl.DataFrame,
    /,
    *,
    columns: Columns,
    null_policy: str,
    bad_text_policy: str,
    dataset: str,
    source: Path,
    output_dir: Path,
    max_drop_fraction: float = 1.0,
    expectations: Sequence[Declared] = (),
) -> Checked[TextFindings]:
    """Null check and the config's expectations, then empty/whitespace-only, non-string and
    undecodable texts, by row.

    Under `null_policy="drop"` rows with a null are removed, up to `max_drop_fraction` of
    the rows read (1.0: no limit); bad texts dropped under `bad_text_policy` do not count.

    Raises:
        ValidationFailed: nulls under `null_policy="fail"`, a drop of more than
            `max_drop_fraction` of the rows, or bad texts under `bad_text_policy="fail"`,
            naming the columns or the rows (first few) and the count.
        DataError: a single class, or a class too small to split (naming the drop when it
            caused that).
    """
    (text,) = columns.features
    _check_unique_ids(frame, columns.id_column, source)
    result = check_nulls(
        frame,
        columns=columns.kept,
        dataset=dataset,
        output_dir=output_dir,
        expectations=expectations,
        max_drop_fraction=tolerated_nulls(null_policy, max_drop_fraction),
    )
    with_nulls = {name: count for name, count in result.null_counts.items() if count}
    if with_nulls and null_policy == "fail":
        listed = ", ".join(f"'{name}' ({count})" for name, count in with_nulls.items())
        msg = (
            f"null values in {listed} of {source}; fix the data or set validation.null_policy: drop"
        )
        raise ValidationFailed(msg)
    check_outcomes(result.outcomes, dataset=dataset)
    rows_dropped = 0
    if with_nulls:
        kept = frame.drop_nulls(list(with_nulls))
        rows_dropped = frame.height - kept.height
        drop = NullDrop(frame.height, rows_dropped, with_nulls, fix=f"fill those nulls in {source}")
        check_drop_fraction(drop, max_fraction=max_drop_fraction)
        # Before the bad texts go: what they empty is their policy's doing, not the drop's.
        check_classes_left(
            class_counts(kept[columns.label]),
            read_counts=class_counts(frame[columns.label]),
            label=columns.label,
            drop=drop,
        )
        frame = kept

    problem = (
        pl.when(pl.col(PROBLEM).is_not_null())
        .then(pl.col(PROBLEM))
        .when(pl.col(text).str.strip_chars().str.len_chars() == 0)
        .then(pl.lit(EMPTY))
    )
    frame = frame.with_columns(problem.alias(PROBLEM))
    bad = frame.filter(pl.col(PROBLEM).is_not_null())
    bad_counts = dict(bad.group_by(PROBLEM).len().sort(PROBLEM).iter_rows())
    if bad.height and bad_text_policy == "fail":
        shown = "; ".join(
            f"row {row_id}: {reason}"
            for row_id, reason in bad.select(columns.id_column, PROBLEM).head(SHOWN_ROWS).rows()
        )
        more = f" and {bad.height - SHOWN_ROWS} more" if bad.height > SHOWN_ROWS else ""
        msg = (
            f"{bad.height} unusable text(s) in column '{text}' of {source} ({shown}{more}); "
            "fix those rows or set validation.bad_text_policy: drop"
        )
        raise ValidationFailed(msg)
    frame = frame.filter(pl.col(PROBLEM).is_null()).drop(PROBLEM)

    counts = class_counts(frame[columns.label])
    check_class_sizes(counts, label=columns.label)
    return Checked(
        frame=frame,
        rows_dropped=rows_dropped + bad.height,
        null_counts=result.null_counts,
        class_counts=counts,
        rows_dropped_for_nulls=rows_dropped,
        findings=TextFindings(
            bad_texts_dropped={str(reason): int(count) for reason, count in bad_counts.items()},
            bad_text_policy=bad_text_policy,
            **duplicate_stats(frame, text=text, label=columns.label),
        ),
        expectations=tuple(outcome.as_manifest() for outcome in result.outcomes),
    )


def _check_unique_ids(frame: pl.DataFrame, id_column: str, source: Path) -> None:
    # Paraphrases name their source by id (`source_row_id`), so ids must be unique.
    repeated = frame.filter(pl.col(id_column).is_duplicated() & pl.col(id_column).is_not_null())
    if repeated.height:
        example = repeated[id_column][0]
        msg = (
            f"id column '{id_column}' of {source} repeats ids ({repeated.height} rows, e.g. "
            f"{example!r}); make the ids unique or leave id_column empty to use row numbers"
        )
        raise DataError(msg)


def duplicate_stats(frame: pl.DataFrame, /, *, text: str, label: str) -> dict[str, int]:
    """Texts repeated after normalisation, and those repeated under different labels."""
    groups = (
        frame.group_by(normalised_text_expr(text).alias("_norm"))
        .agg(pl.len().alias("rows"), pl.col(label).n_unique().alias("labels"))
        .filter(pl.col("rows") > 1)
    )
    return {
        "duplicate_text_rows": int(groups["rows"].sum()),
        "duplicate_texts_across_classes": int((groups["labels"] > 1).sum()),
    }
