"""Prefect tasks: thin wrappers that add names, retries and logging to the plain steps.

Policy lives here. Errors in the user's data or config (`RebalanceError`) are never retried:
they cannot succeed on a second try. Anything else (a flaky disk, a network share) is
retried with exponential backoff. No task caches: inputs are whole data frames, and
hashing them for a cache key would cost more than the step.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from rebalance import faults
from rebalance.config import RunConfig
from rebalance.errors import RebalanceError
from tasks.ingest import Columns
from tasks.manifest import write_manifest
from tasks.modality import (
    CheckedTable,
    Ingested,
    Resampled,
    count_synthetic,
    modality_for,
    row_count,
)
from tasks.report import (
    CHART_FILE,
    artifact_key,
    count_rows,
    png_data_uri,
    render_chart,
    render_markdown,
)
from tasks.rerun import input_fingerprint, reusable_run
from tasks.run_folder import RunFolder, publish_run_folder
from tasks.split import SplitResult, split_frame
from tasks.streaming import SCRATCH_FILES, split_streaming
from validations.invariants import check_run_invariants, holdout_hashes


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
    """A pipeline step: no cache, user errors not retried, a fault-injection point."""

    def decorate(fn):
        @functools.wraps(fn)
        def step(*args, **kwargs):
            faults.inject(name)
            return fn(*args, **kwargs)

        return task(name=name, cache_policy=NO_CACHE, retry_condition_fn=retry_unless_user_error)(
            step
        )

    return decorate


@_task("check-config")
def check_config(config: RunConfig) -> str | None:
    """Fail fast on a config the modality cannot run (sampler, params...), before reading data."""
    name = modality_for(config.modality).check_config(config)
    get_run_logger().info("%s rebalancing with: %s", config.modality, name or "none")
    return name


@dataclasses.dataclass(frozen=True)
class RerunCheck:
    """The run's input fingerprint, and the published run it would reproduce, if any."""

    fingerprint: str | None
    reusable: str | None


@_task("check-unchanged")
def check_unchanged(config: RunConfig, force: bool = False) -> RerunCheck:
    """Fingerprint the input; find a published run with the same one (unless `force`)."""
    fingerprint = input_fingerprint(config)
    reusable = None if force else reusable_run(config, fingerprint)
    if reusable is not None:
        get_run_logger().info(
            "data, config and libraries unchanged since %s: reusing it (force=True reruns)",
            reusable,
        )
    return RerunCheck(fingerprint, None if reusable is None else str(reusable))


@_task("ingest")
def ingest(config: RunConfig) -> Ingested:
    """Read the source into one row per sample, keeping the run's columns."""
    ingested = modality_for(config.modality).ingest(config)
    get_run_logger().info(
        "read %d samples × %d columns from %s",
        ingested.rows_read,
        ingested.frame.collect_schema().len(),
        config.source,
    )
    return ingested


@_task("validate")
def validate(ingested: Ingested, config: RunConfig, run_dir: Path) -> CheckedTable:
    """Great Expectations null check, the modality's checks, and the class-size checks."""
    checked = modality_for(config.modality).validate(ingested, config, run_dir / "validation")
    logger = get_run_logger()
    if checked.rows_dropped:
        with_nulls = {name: count for name, count in checked.null_counts.items() if count}
        logger.warning(
            "dropped %d samples (nulls per column: %s)", checked.rows_dropped, with_nulls
        )
    logger.info("classes: %s", checked.class_counts)
    return checked


@_task("split")
def split(
    frame: pl.DataFrame | pl.LazyFrame, columns: Columns, config: RunConfig, run_dir: Path
) -> SplitResult:
    """Stratified split; val and test are written here, exactly as split, and never again."""
    modality = modality_for(config.modality)
    if isinstance(frame, pl.LazyFrame):
        # A streamed table, read from the scratch copy that validation wrote.
        result = split_streaming(
            frame,
            label=columns.label,
            fractions=config.split.fractions,
            seed=config.split.seed,
            group_keys=lambda batch: modality.group_keys(batch, columns, config),
            run_dir=run_dir,
            batch_rows=config.streaming.batch_rows,
        )
    else:
        result = split_frame(
            frame,
            label=columns.label,
            fractions=config.split.fractions,
            seed=config.split.seed,
            group_keys=modality.group_keys(frame, columns, config),
        )
        for name in ("val", "test"):
            modality.write_holdout(result.frames()[name], name, columns, config, run_dir)
    result = dataclasses.replace(result, holdout_sha256=holdout_hashes(run_dir))
    sizes = {name: row_count(part) for name, part in result.frames().items()}
    get_run_logger().info(
        "split %d samples into train %d, val %d, test %d (%d samples in %d groups kept together)",
        sum(sizes.values()),
        sizes["train"],
        sizes["val"],
        sizes["test"],
        result.grouped_rows,
        result.groups,
    )
    return result


@_task("rebalance")
def rebalance(
    train: pl.DataFrame | pl.LazyFrame, columns: Columns, config: RunConfig, run_dir: Path
) -> Resampled:
    """Rebalance the training split only, and write it."""
    logger = get_run_logger()
    resampled = modality_for(config.modality).rebalance(train, columns, config, run_dir)
    for note in resampled.notes:
        logger.warning(note)
    logger.info(
        "train: %d samples before, %d after (%d synthetic) with %s",
        row_count(train),
        row_count(resampled.frame),
        count_synthetic(resampled.frame),
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
        markdown=render_markdown(manifest, chart=png_data_uri(run_dir / CHART_FILE)),
        description=f"Class balance of {manifest['name']}, run {manifest['run_id']}",
    )
    create_table_artifact(
        key=artifact_key(manifest["name"], "counts"),
        table=rows,
        description=f"Rows per class and split of {manifest['name']}, run {manifest['run_id']}",
    )
    return path


@_task("verify")
def verify(run_dir: Path, splits: SplitResult, columns: Columns, config: RunConfig) -> None:
    """Check the run's invariants on the written files; a broken one stops the publish."""
    modality = modality_for(config.modality)
    check_run_invariants(
        run_dir,
        label=columns.label,
        split_train=splits.train,
        holdout_sha256=splits.holdout_sha256,
        sample_keys=lambda frame: modality.group_keys(frame, columns, config),
        output_columns=getattr(modality, "output_columns", None),
    )
    # A streamed table's copies as ingested and as split: no longer needed.
    for name in SCRATCH_FILES:
        (run_dir / name).unlink(missing_ok=True)
    get_run_logger().info("invariants hold: val/test untouched, no leak, counts match")


@_task("publish")
def publish(folder: RunFolder) -> str:
    """Rename the complete run folder into place and move `latest` to it."""
    return str(publish_run_folder(folder))
