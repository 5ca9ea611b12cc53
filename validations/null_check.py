"""The Great Expectations checkpoint of a run: one `ExpectColumnValuesToNotBeNull` per checked
column, and the expectations the config declares, in one suite named after the dataset.

Great Expectations has no polars backend, so the checked columns are converted to pandas
here, once, with `frame.select(columns).to_pandas()`. That conversion decides what "null"
means: a polars null and a float NaN both become NaN in pandas, and pandas (so GX) counts
NaN as null. A float column holding NaN therefore fails this check even though polars'
`null_count()` says 0 for it.

Under `validation.null_policy: drop` the null expectations get GX's `mostly` of
1 - `max_drop_fraction`, with a note: the validation shows the nulls as read (counts and
shares) and passes while the policy may drop them, so Data Docs do not call a run "Failed"
that went on, by policy, with the rows left. A column with more nulls than the policy may
drop fails it, as the run does.

Wide tables: GX spends about 50 ms per expectation building and judging it, whatever the
rows (300 × 5,000 columns took over 5 minutes), and its multi-column expectations match
every listed name against every column of the batch, so a table of more than
`PER_COLUMN_LIMIT` checked columns gets one expectation per column only for the columns
with nulls (the `PER_COLUMN_LIMIT` with the most), and one expectation for all the others
together: `ExpectColumnValuesToNotBeNull` on one column added to GX's pandas frame, null in
each row that has a null in any of them (pandas' `isna`, GX's own test); result.json lists
them in its `meta.columns`. The null counts of every column are pandas' `isna().sum()` of
the frame GX validates, one vectorised pass: the counts GX gives the columns it checks one
by one.

Only `result.json` is written here; the dataset's Data Docs site is rendered from it
(`validations.data_docs`). `great_expectations` takes several seconds to import, so it is
imported inside `check_nulls`, never when this module is imported.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rebalance.errors import ConfigError, DataError
from validations.expectations import (
    DECLARED,
    NULL_CHECK,
    SHOWN_VALUES,
    Declared,
    Outcome,
    combine_batches,
    outcomes,
)

if TYPE_CHECKING:
    import polars as pl
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.data_context.types.base import DataContextConfig
    from great_expectations.expectations.expectation import Expectation

RESULT_FILE = "result.json"
# Above this many checked columns, the columns without nulls share one expectation (see the
# module docstring): GX takes about 50 ms per expectation, so 100 cost some 5 s.
PER_COLUMN_LIMIT = 100
# Our severities as GX's own (`Expectation.severity`).
GX_SEVERITY = {"fail": "critical", "warn": "warning"}

# GX keeps one process-wide "current" Data Context, which `gx.get_context` replaces. Calls
# take turns so that concurrent tasks (Prefect's thread runner) do not swap it under each
# other while one of them restores the previous context.
_GX_LOCK = threading.Lock()


@dataclass(frozen=True)
class NullCheckResult:
    """The outcome of `check_nulls`.

    Attributes:
        success: True when every expectation of the suite was met (the null checks with
            their `mostly`, the declared ones whatever their severity).
        null_counts: Every checked column mapped to its number of nulls, NaN included, as
            Great Expectations counts them (pandas' `isna`, on the frame GX validates; 0
            when clean).
        result_path: `<output_dir>/result.json`, the GX validation result as JSON.
        outcomes: What GX found for each declared expectation, in the config's order.
    """

    success: bool
    null_counts: dict[str, int]
    result_path: Path
    outcomes: tuple[Outcome, ...] = ()


def check_nulls(
    frame: pl.DataFrame,
    /,
    *,
    columns: Sequence[str],
    dataset: str,
    output_dir: Path,
    expectations: Sequence[Declared] = (),
    max_drop_fraction: float | None = None,
) -> NullCheckResult:
    """Check that the given columns hold no nulls, and the declared expectations, with a
    Great Expectations checkpoint.

    Only `columns` and the columns the expectations name are converted to pandas; other
    columns may hold nulls. A float NaN counts as null (pandas semantics, see the module
    docstring). The GX validation result is written to `output_dir/result.json`; nothing
    is written anywhere else. Nothing is raised for a failed expectation: the caller reads
    `null_counts` and `outcomes` (`validations.expectations.check_outcomes`).

    Args:
        frame: The data to check.
        columns: The columns that must hold no nulls.
        dataset: Name of the data, the suite's name.
        output_dir: Folder for `result.json`; created if missing.
        expectations: The config's expectations (`validation.declared_expectations()`).
        max_drop_fraction: Under `null_policy: drop`, the share of rows the policy may drop:
            the null expectations pass with that share of nulls (GX's `mostly`). None under
            `null_policy: fail`.

    Returns:
        Whether the suite passed, the null count of each column, the path written and the
        declared expectations' outcomes.

    Raises:
        ConfigError: `columns` is empty or a bare string, `dataset` is not a plain name, or
            GX refuses an expectation's kwargs.
        DataError: A column in `columns` is not in `frame`.
        OSError: `output_dir` cannot be created or written.
        RuntimeError: GX failed inside an expectation and returned no count for a column.
    """
    return check_nulls_in_batches(
        [frame],
        columns=columns,
        dataset=dataset,
        output_dir=output_dir,
        expectations=expectations,
        max_drop_fraction=max_drop_fraction,
    )


def check_nulls_in_batches(
    batches: Iterable[pl.DataFrame],
    /,
    *,
    columns: Sequence[str],
    dataset: str,
    output_dir: Path,
    expectations: Sequence[Declared] = (),
    max_drop_fraction: float | None = None,
) -> NullCheckResult:
    """`check_nulls` on a table given as consecutive batches of rows (read by streaming).

    One GX checkpoint validates each batch in turn, so only one batch is in pandas at a
    time. `result.json` holds one validation result for the whole table
    (`validations.expectations.combine_batches`): counts of unexpected rows are summed over
    the batches, other expectations judge each batch; its `meta.batches` says how many.

    Raises:
        ConfigError: `columns` is empty or a bare string, `dataset` is not a plain name, or
            GX refuses an expectation's kwargs.
        DataError: A column in `columns` is not in the first batch, or there is no batch.
        OSError: `output_dir` cannot be created or written.
        RuntimeError: GX failed inside an expectation and returned no count for a column.
    """
    _check_dataset_name(dataset)
    remaining = iter(batches)
    first = next(remaining, None)
    if first is None:
        msg = f"{dataset!r} has no rows to check for nulls"
        raise DataError(msg)
    checked = _checked_columns(first, columns=columns, dataset=dataset)
    named = [name for entry in expectations for name in _named_columns(entry.kwargs)]
    # What GX sees: the checked columns and those the expectations name (a missing one is
    # GX's to report, as the failure of that expectation).
    present = set(first.columns)
    converted = list(dict.fromkeys([*checked, *(n for n in named if n in present)]))
    output_dir.mkdir(parents=True, exist_ok=True)
    results = []
    # Set before the first GX import: older GX 1.x releases read it then. 1.24 sends no
    # analytics and ignores it; `analytics_enabled=False` below says the same in config.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    counts = dict.fromkeys(checked, 0)
    grouped: Grouped | None = None
    with _current_context(_context_config()) as context:
        checkpoint = None
        for frame in itertools.chain([first], remaining):
            # The only polars -> pandas conversion in the project (see the module docstring).
            pdf = frame.select(converted).to_pandas()
            # Nulls as GX counts them (pandas' isna: NaN too), every column in one pass.
            nulls = pdf[checked].isna()
            for column, count in zip(checked, nulls.sum().tolist(), strict=True):
                counts[column] += int(count)
            if checkpoint is None:
                # The suite is fixed by the first batch (all of an in-memory table).
                grouped = group_columns(checked, counts, taken=[*converted, *named])
                suite = [
                    *_null_expectations(
                        grouped.one_by_one if grouped else checked,
                        max_drop_fraction=max_drop_fraction,
                    ),
                    *_grouped_expectation(grouped, max_drop_fraction=max_drop_fraction),
                    *_declared(expectations, dataset=dataset),
                ]
                checkpoint = _checkpoint(context, suite, dataset=dataset)
            if grouped is not None:
                pdf[grouped.name] = (
                    nulls[list(grouped.together)].any(axis=1).map({True: None, False: True})
                )
            del nulls
            checkpoint_result = checkpoint.run(batch_parameters={"dataframe": pdf})
            del pdf
            # One validation definition, so one validation result.
            (validation,) = checkpoint_result.run_results.values()
            # Through JSON: numpy scalars become numbers, as in result.json.
            results.append(json.loads(json.dumps(validation.to_json_dict())))
    written = _list_grouped(combine_batches(results), grouped)
    result_path = output_dir / RESULT_FILE
    result_path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    return NullCheckResult(
        success=bool(written["success"]),
        null_counts=_null_counts(written, counts=counts, dataset=dataset),
        result_path=result_path,
        outcomes=outcomes(written),
    )


@dataclass(frozen=True)
class Grouped:
    """How a wide table's null check is split between GX expectations.

    Attributes:
        one_by_one: The columns that get one `ExpectColumnValuesToNotBeNull` each.
        together: The columns that share one, on the added column `name`.
        name: The column added to GX's frame: null in a row with a null in any of `together`.
    """

    one_by_one: tuple[str, ...]
    together: tuple[str, ...]
    name: str


def group_columns(
    columns: Sequence[str],
    null_counts: Mapping[str, int],
    /,
    *,
    taken: Iterable[str] = (),
    limit: int | None = None,
) -> Grouped | None:
    """Which checked columns get an expectation each, and which share one; None when there
    are at most `limit` columns (each gets its own, as GX users expect).

    Args:
        columns: The checked columns, in order.
        null_counts: Their nulls (in the first batch, for a streamed table).
        taken: Column names the added column must not take (those GX gets).
        limit: At most this many columns get an expectation each: those with nulls, the
            most first (None: `PER_COLUMN_LIMIT`).
    """
    limit = PER_COLUMN_LIMIT if limit is None else limit
    if len(columns) <= limit:
        return None
    with_nulls = sorted((c for c in columns if null_counts.get(c)), key=lambda c: -null_counts[c])
    alone = set(with_nulls[:limit])
    together = tuple(column for column in columns if column not in alone)
    name = f"(any of the other {len(together):,} checked columns)"
    used = set(taken)
    while name in used:  # a column of the data may be named so: never overwrite it
        name = f"({name})"
    return Grouped(
        one_by_one=tuple(column for column in columns if column in alone),
        together=together,
        name=name,
    )


def _named_columns(kwargs: object) -> list[str]:
    if not isinstance(kwargs, dict):
        return []
    named = [kwargs.get(key) for key in ("column", "column_A", "column_B")]
    named += list(kwargs.get("column_list") or [])
    return [str(name) for name in named if name is not None]


def _checked_columns(frame: pl.DataFrame, *, columns: Sequence[str], dataset: str) -> list[str]:
    # A bare string is a Sequence[str] too: "label" would check the columns l, a, b, e, l.
    if isinstance(columns, str) or not columns:
        msg = (
            f"columns for the null check of {dataset!r} must be a non-empty list of column"
            f" names, got {columns!r}"
        )
        raise ConfigError(msg)
    present = set(frame.columns)  # `frame.columns` is a new list on each access
    missing = [column for column in columns if column not in present]
    if missing:
        msg = (
            f"{dataset!r} has no column(s) {missing} to check for nulls;"
            f" its columns are {frame.columns}"
        )
        raise DataError(msg)
    # One expectation per column, however often it was listed.
    return list(dict.fromkeys(columns))


def _check_dataset_name(dataset: str) -> None:
    # GX turns the suite name into Data Docs paths, so a separator or ".." in it would
    # write outside output_dir.
    if not dataset or "/" in dataset or "\\" in dataset or ".." in dataset:
        msg = (
            f"dataset {dataset!r} cannot name the null-check suite: use a name without"
            " '/', '\\' or '..'"
        )
        raise ConfigError(msg)


def preload_great_expectations() -> None:
    """Import Great Expectations now (it takes seconds), with analytics off as `_validate` sets."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations  # noqa: F401


def _context_config() -> DataContextConfig:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return DataContextConfig(
        # In-memory stores, and no docs site: the default ephemeral context builds one in a
        # temporary folder; the dataset's site is rendered from result.json instead.
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={},
        analytics_enabled=False,
        # Otherwise each run prints tqdm "Calculating Metrics" bars to stderr (and Prefect logs).
        progress_bars=ProgressBarsConfig(globally=False),
    )


@contextmanager
def _current_context(config: DataContextConfig) -> Iterator[AbstractDataContext]:
    import great_expectations as gx
    from great_expectations.data_context import set_context
    from great_expectations.data_context.data_context.context_factory import project_manager
    from great_expectations.exceptions import DataContextRequiredError

    with _GX_LOCK:
        try:
            previous = project_manager.get_current_project()
        except DataContextRequiredError:
            previous = None
        try:
            yield gx.get_context(mode="ephemeral", project_config=config)
        finally:
            # The current context caches the last batch, so leaving ours current would keep
            # the whole pandas copy of the frame alive until the next call.
            set_context(previous)


def _null_expectations(columns: list[str], *, max_drop_fraction: float | None) -> list[Expectation]:
    import great_expectations as gx

    meta = {"added_by": NULL_CHECK}
    if max_drop_fraction is None:
        return [gx.expectations.ExpectColumnValuesToNotBeNull(column=c, meta=meta) for c in columns]
    note = (
        "validation.null_policy: drop removes the rows with a null here before the split; "
        f"this passes while at most {max_drop_fraction:.1%} of the rows read are null "
        "(validation.max_drop_fraction), and the rows kept have no null here"
    )
    return [
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column=c, mostly=1 - max_drop_fraction, meta=meta, notes=note
        )
        for c in columns
    ]


def _grouped_expectation(
    grouped: Grouped | None, *, max_drop_fraction: float | None
) -> list[Expectation]:
    import great_expectations as gx

    if grouped is None:
        return []
    # The columns are listed in result.json (`_list_grouped`), not in the meta GX carries:
    # GX copies an expectation's configuration dozens of times while validating it.
    meta = {"added_by": NULL_CHECK}
    note = (
        f"One expectation for {len(grouped.together):,} checked columns (one each would take "
        "Great Expectations about 50 ms per column): this column is not in the data; a row "
        "is null here when it holds a null (or NaN) in any of them, as listed in this "
        "expectation's meta.columns."
    )
    if max_drop_fraction is None:
        return [
            gx.expectations.ExpectColumnValuesToNotBeNull(
                column=grouped.name, meta=meta, notes=note
            )
        ]
    note += (
        " validation.null_policy: drop removes those rows; this passes while at most "
        f"{max_drop_fraction:.1%} of the rows read have one (validation.max_drop_fraction)."
    )
    return [
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column=grouped.name, mostly=1 - max_drop_fraction, meta=meta, notes=note
        )
    ]


def _list_grouped(result: dict[str, Any], grouped: Grouped | None) -> dict[str, Any]:
    """The validation result with the shared expectation's columns in its meta.columns."""
    if grouped is None:
        return result
    for item in result["results"]:
        config = item["expectation_config"]
        meta = config.get("meta") or {}
        if meta.get("added_by") == NULL_CHECK and config["kwargs"].get("column") == grouped.name:
            config["meta"] = {**meta, "columns": list(grouped.together)}
    return result


def _declared(expectations: Sequence[Declared], *, dataset: str) -> list[Expectation]:
    import great_expectations as gx
    from great_expectations.compatibility.pydantic import ValidationError

    built = []
    for order, entry in enumerate(expectations):
        cls = getattr(gx.expectations, entry.expectation)
        meta = {
            "added_by": DECLARED,
            "order": order,
            "expectation": entry.expectation,
            "severity": entry.severity,
        }
        try:
            built.append(cls(**entry.kwargs, meta=meta, severity=GX_SEVERITY[entry.severity]))
        except ValidationError as exc:
            problem = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
                for error in exc.errors()
            )
            msg = (
                f"Great Expectations refuses {entry.expectation}({entry.kwargs}) of "
                f"validation.expectations for {dataset!r} ({problem}); fix its kwargs"
            )
            raise ConfigError(msg) from None
    return built


def _checkpoint(
    context: AbstractDataContext, expectations: list[Expectation], *, dataset: str
) -> Checkpoint:
    import great_expectations as gx

    batch_definition = (
        context.data_sources.add_pandas(name=dataset)
        .add_dataframe_asset(name="frame")
        .add_batch_definition_whole_dataframe(name="whole_frame")
    )
    # Built whole, then added: `suite.add_expectation` on a stored suite rewrites the suite
    # in its store each time (about 25 ms per column).
    suite = context.suites.add(gx.ExpectationSuite(name=dataset, expectations=expectations))
    validation_definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=dataset, data=batch_definition, suite=suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=dataset,
            validation_definitions=[validation_definition],
            actions=[],
            # BASIC keeps counts and a few unexpected values: a few hundred bytes per
            # expectation, however many rows fail it.
            result_format={"result_format": "BASIC", "partial_unexpected_count": SHOWN_VALUES},
        )
    )


def _null_counts(result: dict[str, Any], *, counts: dict[str, int], dataset: str) -> dict[str, int]:
    # The counts are pandas' (GX's own test, on the same frame); an expectation that raised
    # inside GX has no count, and exception_info says why.
    for expectation in result["results"]:
        config = expectation["expectation_config"]
        if (config.get("meta") or {}).get("added_by") != NULL_CHECK:
            continue
        if (expectation.get("result") or {}).get("unexpected_count") is None:
            column = config["kwargs"]["column"]
            msg = (
                f"Great Expectations could not count the nulls in column {column!r} of"
                f" {dataset!r}: {expectation.get('exception_info')}"
            )
            raise RuntimeError(msg)
    return dict(counts)
