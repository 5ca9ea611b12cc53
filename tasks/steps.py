"""The flows' Prefect tasks: thin wrappers that add names, retries and logging to plain steps.

Policy lives here (see `tasks.core.retry`): errors in the user's data or config are never
retried, anything else is, with exponential backoff. The work is in the modality the registry
finds for the config, in `tasks.run` and in `validations`. Only `flows/` imports this module.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from prefect import get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from rebalance import faults
from rebalance.config import CommonConfig
from rebalance.errors import STEP_NOTE, RebalanceError, ValidationFailed
from tasks.core.artifacts import artifact_key, artifact_markdown
from tasks.core.columns import Columns
from tasks.core.contract import NOT_EVALUATED, Checked, Evaluated, Ingested, Resampled
from tasks.core.frames import SCRATCH_FILES, count_synthetic, row_count
from tasks.core.retry import step
from tasks.registry import modality_for
from tasks.run import ready, training
from tasks.run.class_weights import write_class_weights
from tasks.run.drift import Drift, drift_since_latest, render_drift
from tasks.run.folder import (
    LATEST,
    TEMP_PREFIX,
    RunFolder,
    discard_run_folder,
    new_run_id,
    open_run_folder,
    publish_run_folder,
)
from tasks.run.hashsplit import pins_in
from tasks.run.manifest import MANIFEST_FILE, build_manifest, read_manifest, write_manifest
from tasks.run.preflight import preflight
from tasks.run.profile import profile_frame, write_profile
from tasks.run.report import CHART_FILE, count_rows, render_chart, render_markdown
from tasks.run.rerun import input_fingerprint, reusable_run
from tasks.run.retention import prune_runs
from tasks.run.split import SplitResult, split_frame, split_streaming
from validations.data_docs import DATA_DOCS, update_site
from validations.drops import columns_with_nulls
from validations.invariants import check_run_invariants, holdout_hashes
from validations.null_check import RESULT_FILE


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a step, and name it on an unexpected error so the CLI can say which step failed."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, RebalanceError):
            exc.add_note(f"{STEP_NOTE}{name}")
        raise
    timings[name] = time.perf_counter() - started


def open_run(config: CommonConfig, *, trial: bool = False) -> RunFolder:
    """A new run's temporary folder (folders of dead runs are removed first); a trial's ends
    up under `trials/`, unpublished."""
    folder = open_run_folder(config.dataset_dir, run_id=new_run_id(), trial=trial)
    get_run_logger().info(
        "%s %s writes into %s", "trial run" if trial else "run", folder.run_id, folder.temp
    )
    return folder


def discard_run(folder: RunFolder) -> None:
    """Remove a failed run's temporary folder; published runs and `latest` stay as they are."""
    discard_run_folder(folder)


def manifest_of(
    config: CommonConfig,
    *,
    folder: RunFolder,
    resampled: Resampled[Any],
    fingerprint: str | None,
    **facts: Any,
) -> dict[str, Any]:
    """The run's manifest (`build_manifest` with `facts`: started_at, ingested, checked, splits,
    evaluated, timings); a run that fell back to an offline method gets no fingerprint, so
    the next run tries the real method again."""
    return build_manifest(
        config=config,
        run_id=folder.run_id,
        resampled=resampled,
        flow_run_id=str(runtime.flow_run.id) if runtime.flow_run.id else None,
        fingerprint=None if resampled.fell_back else fingerprint,
        published=not folder.trial,
        **facts,
    )


@step("check-config")
def check_config(config: CommonConfig) -> str | None:
    """Fail fast on what the config model cannot check alone, before reading data: the
    source's kind and access, the output folder, the rebalancing method."""
    modality = modality_for(config.modality)
    preflight(config, modality)
    name = modality.check_config(config)
    get_run_logger().info("%s rebalancing with: %s", config.modality, name or "none")
    return name


@dataclasses.dataclass(frozen=True)
class RerunCheck:
    """The run's input fingerprint, and the published run it would reproduce, if any."""

    fingerprint: str | None
    reusable: str | None


@step("check-unchanged")
def check_unchanged(config: CommonConfig, force: bool = False) -> RerunCheck:
    """Fingerprint the input; find a published run with the same one (unless `force`)."""
    fingerprint = input_fingerprint(config, modality_for(config.modality))
    reusable = None if force else reusable_run(config, fingerprint)
    if reusable is not None:
        get_run_logger().info(
            "data, config and libraries unchanged since %s: reusing it (force=True reruns)",
            reusable,
        )
    return RerunCheck(fingerprint, None if reusable is None else str(reusable))


@step("ingest")
def ingest(config: CommonConfig) -> Ingested:
    """Read the source into one row per sample, keeping the run's columns."""
    ingested = modality_for(config.modality).ingest(config)
    get_run_logger().info(
        "read %d samples × %d columns from %s",
        ingested.rows_read,
        ingested.frame.collect_schema().len(),
        config.source,
    )
    return ingested


@step("validate")
def validate(ingested: Ingested, config: CommonConfig, run_dir: Path) -> Checked[Any]:
    """Great Expectations null check and expectations, the modality's checks, and the
    class-size checks; the dataset's Data Docs site gets the validation, failed or not."""
    try:
        checked = modality_for(config.modality).validate(ingested, config, run_dir / "validation")
    except RebalanceError as exc:
        _record_validation(config, run_dir, failure=str(exc))
        raise
    _record_validation(config, run_dir, failure=None)
    logger = get_run_logger()
    for entry in checked.expectations:
        if entry["status"] == "warning":
            logger.warning(
                "expectation not met (severity warn): %s %s: %s",
                entry["expectation"],
                entry["kwargs"],
                entry["observed"],
            )
    for note in checked.notes:
        logger.warning(note)
    if checked.rows_dropped:
        nulls = checked.rows_dropped_for_nulls
        other = checked.rows_dropped - nulls  # the modality's own policies (bad files, texts)
        # A few columns named, the others counted: a wide table may have thousands.
        why = [f"{nulls} for nulls in {columns_with_nulls(checked.null_counts)}"] if nulls else []
        why += [f"{other} by the {config.modality} checks"] if other else []
        logger.warning("dropped %d samples (%s)", checked.rows_dropped, "; ".join(why))
    logger.info("classes: %s", checked.class_counts)
    return checked


@step("drift")
def drift(
    checked: Checked[Any], columns: Columns, rows_read: int, config: CommonConfig, run_dir: Path
) -> Drift:
    """Profile the validated input (profile.json) and compare it with the run `latest` points
    at; findings go to the log and the `<name>-drift` artifact, and a `fail` one stops the run
    before anything is published."""
    profile = profile_frame(
        checked.frame,
        columns=columns,
        null_counts=checked.null_counts,
        rows_read=rows_read,
        bins=config.drift.distribution.bins,
    )
    write_profile(profile, run_dir)
    found = drift_since_latest(
        checked.frame, profile, dataset_dir=config.dataset_dir, config=config.drift
    )
    logger = get_run_logger()
    logger.info("drift: %s", found.note)
    for finding in found.findings:
        log = logger.error if finding.severity == "fail" else logger.warning
        log("drift.%s (%s): %s", finding.check, finding.severity, finding.message)
    key = artifact_key(config.name, "drift")
    create_markdown_artifact(
        key=key,
        markdown=render_drift(found),
        description=f"The input of {config.name} against the run latest pointed at: {found.status}",
    )
    message = found.failure_message(artifact=key)
    if message is not None:
        raise ValidationFailed(message)
    return found


def _record_validation(config: CommonConfig, run_dir: Path, *, failure: str | None) -> None:
    result = run_dir / "validation" / RESULT_FILE
    if not result.is_file():  # validation stopped before Great Expectations ran
        return
    try:
        faults.inject("data-docs")
        page = update_site(
            config.dataset_dir / DATA_DOCS,
            dataset=config.name,
            run_id=run_dir.name.removeprefix(TEMP_PREFIX),
            result_path=result,
            keep=config.validation.data_docs_keep,
            failure=failure,
        )
    except (OSError, ValueError) as exc:  # the run's own outputs do not depend on the site
        get_run_logger().warning("Data Docs of %s not updated: %s", config.name, exc)
        return
    get_run_logger().info("Data Docs: %s", page)


@step("split")
def split(
    frame: pl.DataFrame | pl.LazyFrame, columns: Columns, config: CommonConfig, run_dir: Path
) -> SplitResult:
    """Stratified or hash split; val and test are written here, exactly as split, and never
    again. A hash split keeps the pins of the run `latest` points at."""
    modality = modality_for(config.modality)
    by_hash = config.split.method == "hash"
    pinned = None
    if by_hash:
        pinned = pins_in(
            config.dataset_dir / LATEST / MANIFEST_FILE,
            fractions=config.split.fractions,
            seed=config.split.seed,
        )
    if isinstance(frame, pl.LazyFrame):
        # A table streamed from the scratch copy that validation wrote: each split is
        # written as the rows are read.
        result = split_streaming(
            frame,
            label=columns.label,
            fractions=config.split.fractions,
            seed=config.split.seed,
            group_keys=lambda batch: modality.split_keys(batch, columns, config),
            run_dir=run_dir,
            batch_rows=config.streaming.batch_rows,
            hash_keys=(lambda batch: modality.hash_keys(batch, columns, config))
            if by_hash
            else None,
            pinned=pinned,
        )
    else:
        result = split_frame(
            frame,
            label=columns.label,
            fractions=config.split.fractions,
            seed=config.split.seed,
            group_keys=None if by_hash else modality.split_keys(frame, columns, config),
            hash_keys=modality.hash_keys(frame, columns, config) if by_hash else None,
            pinned=pinned,
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
    if by_hash:
        get_run_logger().info(
            "split by key hash; %d keys pinned to a split other than their hash's (%d of them "
            "kept from the run latest points at)",
            len(result.pinned),
            len(set(result.pinned) & set(pinned or {})),
        )
    return result


@step("evaluate")
def evaluate(
    train: pl.DataFrame | pl.LazyFrame, columns: Columns, config: CommonConfig, run_dir: Path
) -> Evaluated:
    """What rebalancing buys a model, estimated on the training split alone (cross-validated;
    val and test never reach this step)."""
    evaluated = modality_for(config.modality).evaluate(train, columns, config, run_dir)
    logger = get_run_logger()
    for note in evaluated.notes:
        logger.info(note)
    return evaluated


@step("rebalance")
def rebalance(
    train: pl.DataFrame | pl.LazyFrame,
    columns: Columns,
    config: CommonConfig,
    run_dir: Path,
    evaluated: Evaluated = NOT_EVALUATED,
) -> Resampled[Any]:
    """Rebalance the training split only, and write it."""
    logger = get_run_logger()
    resampled = modality_for(config.modality).rebalance(
        train, columns, config, run_dir, evaluated=evaluated
    )
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


@step("report")
def report(manifest: dict[str, Any], run_dir: Path) -> Path:
    """Write class_weights.json, the chart, report.md and manifest.json (last: it lists the
    others' sha256), and publish the Prefect artifacts."""
    write_class_weights(manifest["class_weights"], run_dir)
    render_chart(manifest, run_dir / CHART_FILE)
    (run_dir / "report.md").write_text(render_markdown(manifest), encoding="utf-8")
    path = write_manifest(manifest, run_dir)
    rows = count_rows(manifest)
    # The UI shows an artifact key's history, so one key per dataset tracks it night by night;
    # a trial's go under keys of their own, out of the published runs' history.
    kind = "" if manifest.get("published", True) else "trial-"
    create_markdown_artifact(
        key=artifact_key(manifest["name"], f"{kind}balance"),
        markdown=artifact_markdown(render_markdown(manifest), run_dir),
        description=f"Class balance of {manifest['name']}, run {manifest['run_id']}",
    )
    create_table_artifact(
        key=artifact_key(manifest["name"], f"{kind}counts"),
        table=rows,
        description=f"Rows per class and split of {manifest['name']}, run {manifest['run_id']}",
    )
    return path


@step("verify")
def verify(run_dir: Path, splits: SplitResult, columns: Columns, config: CommonConfig) -> None:
    """Check the run's invariants on the written files; a broken one stops the publish."""
    modality = modality_for(config.modality)
    check_run_invariants(
        run_dir,
        manifest=read_manifest(run_dir / MANIFEST_FILE),
        label=columns.label,
        split_train=splits.train,
        holdout_sha256=splits.holdout_sha256,
        sample_keys=lambda frame: modality.split_keys(frame, columns, config),
        output_columns=modality.output_columns(),
        sample_identity=lambda frame: modality.sample_identity(frame, columns),
    )
    # A streamed table's copies as ingested and as split: no longer needed.
    for name in SCRATCH_FILES:
        (run_dir / name).unlink(missing_ok=True)
    get_run_logger().info(
        "invariants hold: val/test untouched, no leak, counts match, no contradicting sample"
    )


@step("publish")
def publish(folder: RunFolder, keep: int | None = None) -> str:
    """Rename the complete run folder into place, move `latest` to it, then delete the runs
    `retention.keep` no longer keeps (a failed deletion is logged, the run still succeeds).
    A trial run is only renamed into `trials/`: `latest` and the published runs stay as they
    are."""
    final = publish_run_folder(folder)
    if folder.trial:
        get_run_logger().info("trial run kept in %s; `latest` and retention untouched", final)
        return str(final)
    pruned = prune_runs(folder.dataset_dir, keep=keep)
    logger = get_run_logger()
    if pruned.deleted:
        logger.info("retention.keep=%s: deleted runs %s", keep, ", ".join(pruned.deleted))
    for run, reason in pruned.failed.items():
        logger.warning("retention: could not delete run %s (%s)", run, reason)
    if pruned.skipped and keep is not None:
        logger.info("retention: nothing deleted: %s", pruned.skipped)
    return str(final)


@task(name="announce-ready", cache_policy=NO_CACHE)
def announce_ready(
    run_folder: str,
    /,
    *,
    name: str,
    modality: str,
    run_id: str,
    downstream_deployment: str | None = None,
) -> dict[str, Any]:
    """Emit `rebalance.dataset.ready`; start `downstream_deployment` without waiting for it."""
    return ready.announce_ready(
        run_folder,
        name=name,
        modality=modality,
        run_id=run_id,
        downstream_deployment=downstream_deployment,
    )


# ---- the example training job (flows/train_classifier.py) ------------------------------------


@task(name="check-outputs", cache_policy=NO_CACHE)
def check_outputs(run_folder: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Every listed file matches its sha256 and every split loads."""
    return training.check_outputs(run_folder, manifest)


@task(name="compare-models", cache_policy=NO_CACHE)
def compare_models(
    run_folder: str, manifest: dict[str, Any], use_class_weights: bool, seed: int
) -> list[dict[str, Any]]:
    """Both example models without resampling, with class weights and on the published
    rows, scored on test beside the run's cross-validated estimates."""
    comparison = training.compare_models(
        run_folder, manifest, use_class_weights=use_class_weights, seed=seed
    )
    create_markdown_artifact(
        key=artifact_key(manifest["name"], "training"),
        markdown=training.render_scores(manifest["name"], comparison, manifest),
        description="Each arm's scores on the test split beside the cross-validated estimate",
    )
    rows = training.score_rows(comparison, manifest)
    create_table_artifact(key=artifact_key(manifest["name"], "training-scores"), table=rows)
    return rows


def publish_counts(manifest: dict[str, Any], checked: dict[str, Any]) -> None:
    """For a run the example job does not train on: the rows and classes of each split."""
    create_markdown_artifact(
        key=artifact_key(manifest["name"], "training"),
        markdown=training.render_counts(manifest["name"], checked),
        description="The run's outputs load; rows and classes per split",
    )
