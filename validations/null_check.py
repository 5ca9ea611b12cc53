"""Null checks with Great Expectations: one `ExpectColumnValuesToNotBeNull` per column.

Great Expectations has no polars backend, so the checked columns are converted to pandas
here, once, with `frame.select(columns).to_pandas()`. That conversion decides what "null"
means: a polars null and a float NaN both become NaN in pandas, and pandas (so GX) counts
NaN as null. A float column holding NaN therefore fails this check even though polars'
`null_count()` says 0 for it.

`great_expectations` takes several seconds to import, so it is imported inside
`check_nulls`, never when this module is imported.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rebalance.errors import ConfigError, DataError

if TYPE_CHECKING:
    import polars as pl
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.data_context import AbstractDataContext
    from great_expectations.data_context.types.base import DataContextConfig

_DATA_DOCS_SITE = "null_check"

# GX keeps one process-wide "current" Data Context, which `gx.get_context` replaces. Calls
# take turns so that concurrent tasks (Prefect's thread runner) do not swap it under each
# other while one of them restores the previous context.
_GX_LOCK = threading.Lock()


@dataclass(frozen=True)
class NullCheckResult:
    """The outcome of `check_nulls`.

    Attributes:
        success: True when no checked column holds a null (or a float NaN).
        null_counts: Every checked column mapped to its number of nulls, NaN included, as
            Great Expectations counted them (0 when clean).
        result_path: `<output_dir>/result.json`, the GX validation result as JSON.
        data_docs_index: `<output_dir>/data_docs/index.html`, the GX Data Docs for this run.
    """

    success: bool
    null_counts: dict[str, int]
    result_path: Path
    data_docs_index: Path


def check_nulls(
    frame: pl.DataFrame, /, *, columns: Sequence[str], dataset: str, output_dir: Path
) -> NullCheckResult:
    """Check that the given columns hold no nulls, with a Great Expectations checkpoint.

    Only `columns` are converted to pandas and checked; other columns may hold nulls. A
    float NaN counts as null (pandas semantics, see the module docstring). The GX
    validation result is written to `output_dir/result.json` and the Data Docs to
    `output_dir/data_docs/`; nothing is written anywhere else.

    Args:
        frame: The data to check.
        columns: The columns that must hold no nulls.
        dataset: Name of the data, used in the suite name `<dataset>.nulls`.
        output_dir: Folder for `result.json` and `data_docs/`; created if missing.

    Returns:
        Whether the check passed, the null count of each column and the paths written.

    Raises:
        ConfigError: `columns` is empty or a bare string, or `dataset` is not a plain name.
        DataError: A column in `columns` is not in `frame`.
        OSError: `output_dir` cannot be created or written.
        RuntimeError: GX failed inside an expectation and returned no count for a column.
    """
    return check_nulls_in_batches([frame], columns=columns, dataset=dataset, output_dir=output_dir)


def check_nulls_in_batches(
    batches: Iterable[pl.DataFrame], /, *, columns: Sequence[str], dataset: str, output_dir: Path
) -> NullCheckResult:
    """`check_nulls` on a table given as consecutive batches of rows (read by streaming).

    One GX checkpoint validates each batch in turn, so only one batch is in pandas at a
    time; the counts are summed. The Data Docs list one validation per batch, and
    `result.json` holds GX's result for a single batch, or `{"success": ..., "batches":
    [...]}` with each batch's result.

    Raises:
        ConfigError: `columns` is empty or a bare string, or `dataset` is not a plain name.
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
    output_dir.mkdir(parents=True, exist_ok=True)
    null_counts = dict.fromkeys(checked, 0)
    results = []
    # Set before the first GX import: older GX 1.x releases read it then. 1.24 sends no
    # analytics and ignores it; `analytics_enabled=False` below says the same in config.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    with _current_context(_context_config(output_dir / "data_docs")) as context:
        checkpoint = _checkpoint(context, columns=checked, dataset=dataset)
        for frame in itertools.chain([first], remaining):
            # The only polars -> pandas conversion in the project (see the module docstring).
            pdf = frame.select(checked).to_pandas()
            checkpoint_result = checkpoint.run(batch_parameters={"dataframe": pdf})
            del pdf
            # One validation definition, so one validation result.
            (validation,) = checkpoint_result.run_results.values()
            for column, count in _null_counts(validation, dataset=dataset).items():
                null_counts[column] += count
            results.append(validation.to_json_dict())
    success = all(result["success"] for result in results)
    written = results[0] if len(results) == 1 else {"success": success, "batches": results}
    result_path = output_dir / "result.json"
    result_path.write_text(json.dumps(written, indent=2), encoding="utf-8")
    return NullCheckResult(
        success=success,
        null_counts=null_counts,
        result_path=result_path,
        data_docs_index=output_dir / "data_docs" / "index.html",
    )


def _checked_columns(frame: pl.DataFrame, *, columns: Sequence[str], dataset: str) -> list[str]:
    # A bare string is a Sequence[str] too: "label" would check the columns l, a, b, e, l.
    if isinstance(columns, str) or not columns:
        msg = (
            f"columns for the null check of {dataset!r} must be a non-empty list of column"
            f" names, got {columns!r}"
        )
        raise ConfigError(msg)
    missing = [column for column in columns if column not in frame.columns]
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


def _context_config(docs_dir: Path) -> DataContextConfig:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return DataContextConfig(
        # In-memory stores, and no default docs site: the default ephemeral context builds
        # one in a temporary folder, outside output_dir.
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={
            _DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    # GX refuses a relative base_directory (a config's relative `output`).
                    "base_directory": str(docs_dir.resolve()),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
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


def _checkpoint(context: AbstractDataContext, *, columns: list[str], dataset: str) -> Checkpoint:
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    batch_definition = (
        context.data_sources.add_pandas(name=dataset)
        .add_dataframe_asset(name="frame")
        .add_batch_definition_whole_dataframe(name="whole_frame")
    )
    # Built whole, then added: `suite.add_expectation` on a stored suite rewrites the suite
    # in its store each time (about 25 ms per column).
    name = f"{dataset}.nulls"
    expectations = [gx.expectations.ExpectColumnValuesToNotBeNull(column=c) for c in columns]
    suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    validation_definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
    )
    return context.checkpoints.add(
        gx.Checkpoint(
            name=name,
            validation_definitions=[validation_definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[_DATA_DOCS_SITE])],
            # BASIC keeps counts but no value lists: a few hundred bytes per column, however
            # many rows are null.
            result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
        )
    )


def _null_counts(validation: ExpectationSuiteValidationResult, *, dataset: str) -> dict[str, int]:
    # Read back from GX rather than recounted in polars, so the counts are the ones in
    # result.json and the Data Docs (NaN included).
    counts: dict[str, int] = {}
    for expectation in validation.results:
        column = expectation.expectation_config.kwargs["column"]
        count = expectation.result.get("unexpected_count")
        if count is None:  # the expectation raised inside GX; exception_info says why
            msg = (
                f"Great Expectations could not count the nulls in column {column!r} of"
                f" {dataset!r}: {expectation.exception_info}"
            )
            raise RuntimeError(msg)
        counts[column] = int(count)
    return counts
