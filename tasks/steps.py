"""Prefect tasks: thin wrappers that add names, retries and logging to the plain steps.

Policy lives here. Errors in the user's data or config (`RebalanceError`) are never retried:
they cannot succeed on a second try. Anything else (a flaky disk, a network share) is
retried with exponential backoff. No task caches: inputs are whole data frames, and
hashing them for a cache key would cost more than the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from rebalance.config import RunConfig
from rebalance.errors import RebalanceError
from tasks import samplers
from tasks.ingest import Columns, file_sha256, read_table, select_columns
from tasks.manifest import write_manifest
from tasks.report import (
    CHART_FILE,
    artifact_key,
    count_rows,
    mermaid_chart,
    render_chart,
    render_markdown,
)
from tasks.split import SplitResult, split_frame
from tasks.tabular import Resampled, rebalance_table
from validations.table_checks import CheckedTable


def retry_unless_user_error(task, task_run, state) -> bool:
    """Prefect retry condition: retry transient faults, never bad input or config."""
    try:
        state.result(raise_on_failure=True)
    except RebalanceError:
        return False
    except Exception:
        return True
    return True


def with_policy(step, config: RunConfig):
    """The task with the run's retry count and exponential backoff."""
    delays = exponential_backoff(backoff_factor=config.retry_delay_seconds)(config.retries)
    return step.with_options(retries=config.retries, retry_delay_seconds=delays or 0)


def _task(name: str):
    return task(name=name, cache_policy=NO_CACHE, retry_condition_fn=retry_unless_user_error)


@dataclass(frozen=True)
class Ingested:
    """The table as read, reduced to the run's columns."""

    frame: pl.DataFrame
    columns: Columns
    source_sha256: str
    rows_read: int


@_task("check-config")
def check_config(config: RunConfig) -> str | None:
    """Fail fast on a sampler name or params imblearn would reject, before reading data."""
    name = samplers.check_sampler_config(
        config.rebalance.sampler, config.rebalance.params, seed=config.split.seed
    )
    get_run_logger().info("sampler: %s", name or "none (no rebalancing)")
    return name


@_task("ingest")
def ingest(config: RunConfig) -> Ingested:
    """Read the source and keep the label, id, group and feature columns."""
    logger = get_run_logger()
    frame = read_table(config.source)
    rows_read = frame.height
    frame, columns = select_columns(
        frame,
        label=config.label,
        features=config.features,
        id_column=config.id_column,
        group_column=config.split.group_column,
        source=config.source,
    )
    logger.info("read %d rows × %d columns from %s", rows_read, frame.width, config.source)
    return Ingested(
        frame=frame, columns=columns, source_sha256=file_sha256(config.source), rows_read=rows_read
    )


@_task("validate")
def validate(ingested: Ingested, config: RunConfig, run_dir: Path) -> CheckedTable:
    """Great Expectations null check and the class-size checks."""
    from validations.table_checks import validate_table

    checked = validate_table(
        ingested.frame,
        columns=ingested.columns,
        null_policy=config.validation.null_policy,
        dataset=config.name,
        output_dir=run_dir / "validation",
    )
    logger = get_run_logger()
    if checked.rows_dropped:
        with_nulls = {name: count for name, count in checked.null_counts.items() if count}
        logger.warning(
            "dropped %d rows with nulls (per column: %s)", checked.rows_dropped, with_nulls
        )
    logger.info("classes: %s", checked.class_counts)
    return checked


@_task("split")
def split(frame: pl.DataFrame, columns: Columns, config: RunConfig, run_dir: Path) -> SplitResult:
    """Stratified split; val and test are written here, exactly as split, and never again."""
    group_keys = None
    if columns.group_column is not None:
        group_keys = frame[columns.group_column]
    elif config.split.keep_duplicates_together and columns.features:
        group_keys = frame.select(columns.features).hash_rows(seed=0)
    result = split_frame(
        frame,
        label=columns.label,
        fractions=config.split.fractions,
        seed=config.split.seed,
        group_keys=group_keys,
    )
    for name in ("val", "test"):
        write_parquet(result.frames()[name], run_dir / f"{name}.parquet")
    get_run_logger().info(
        "split %d rows into train %d, val %d, test %d (%d rows in %d groups kept together)",
        frame.height,
        result.train.height,
        result.val.height,
        result.test.height,
        result.grouped_rows,
        result.groups,
    )
    return result


@_task("rebalance")
def rebalance(train: pl.DataFrame, columns: Columns, config: RunConfig, run_dir: Path) -> Resampled:
    """Resample the training split only, and write train.parquet."""
    logger = get_run_logger()
    resampled = rebalance_table(
        train,
        columns=columns,
        sampler=config.rebalance.sampler,
        params=config.rebalance.params,
        seed=config.split.seed,
    )
    for note in resampled.notes:
        logger.warning(note)
    write_parquet(resampled.frame, run_dir / "train.parquet")
    synthetic = int(resampled.frame["is_synthetic"].sum())
    logger.info(
        "train: %d rows before, %d after (%d synthetic) with %s",
        train.height,
        resampled.frame.height,
        synthetic,
        resampled.sampler,
    )
    return resampled


@_task("report")
def report(manifest: dict[str, Any], run_dir: Path) -> Path:
    """Write the chart, report.md and manifest.json, and publish the Prefect artifacts."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    render_chart(manifest, run_dir / CHART_FILE)
    (run_dir / "report.md").write_text(render_markdown(manifest), encoding="utf-8")
    path = write_manifest(manifest, run_dir)
    rows = count_rows(manifest)
    # The UI shows an artifact key's history, so one key per dataset tracks it night by night.
    create_markdown_artifact(
        key=artifact_key(manifest["name"], "balance"),
        markdown=render_markdown(manifest, chart=None)
        + "\n"
        + mermaid_chart(rows, title=manifest["name"]),
        description=f"Class balance of {manifest['name']}, run {manifest['run_id']}",
    )
    create_table_artifact(
        key=artifact_key(manifest["name"], "counts"),
        table=rows,
        description=f"Rows per class and split of {manifest['name']}, run {manifest['run_id']}",
    )
    return path


def write_parquet(frame: pl.DataFrame, path: Path, /) -> None:
    """Parquet with fixed settings, so equal frames give equal bytes."""
    frame.write_parquet(path, compression="zstd", statistics=True)
