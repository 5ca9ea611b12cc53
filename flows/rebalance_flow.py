"""The pipeline flow: ingest → validate → split → rebalance train → report → publish.

It only composes tasks; the work is in `tasks/` and `validations/`.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

from prefect import flow, get_run_logger, runtime

from rebalance.config import ImageConfig, TabularConfig, TextConfig
from rebalance.errors import STEP_NOTE, RebalanceError
from tasks import steps
from tasks.class_weights import class_weights
from tasks.manifest import build_manifest, utc_now
from tasks.ready import DeploymentName, announce_ready
from tasks.run_folder import (
    discard_run_folder,
    new_run_id,
    open_run_folder,
)
from tasks.split import label_counts


@contextmanager
def _timed(timings: dict[str, float], name: str):
    """Time a step, and name it on an unexpected error so the CLI can say which step failed."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, RebalanceError):
            exc.add_note(f"{STEP_NOTE}{name}")
        raise
    timings[name] = time.perf_counter() - started


@flow(name="rebalance-dataset", flow_run_name="{config.name}")
def rebalance_dataset(
    # A plain union, not the CLI's discriminated `RunConfig`: its JSON schema is `anyOf`, which
    # the Prefect UI renders as one form per modality (a `oneOf` falls back to a JSON editor).
    # `modality` and extra="forbid" still let exactly one member validate.
    config: TabularConfig | ImageConfig | TextConfig,
    downstream_deployment: DeploymentName | None = None,
    force: bool = False,
) -> str:
    """Validate, split and rebalance one dataset; returns the published run folder.

    On success it emits `rebalance.dataset.ready` (resource `rebalance.dataset.<name>`, payload:
    run_folder, manifest, modality, run_id) and, when given, starts `downstream_deployment`
    with that payload as parameters, without waiting for it.

    Args:
        config: The run's config, as in a config YAML file.
        downstream_deployment: A deployment to start when the run is published.
        force: Run even when data, config and libraries are unchanged since `latest`
            (otherwise that run is reused: nothing is written, no event is emitted).
    """
    logger = get_run_logger()
    timings: dict[str, float] = {}
    started_at = utc_now()
    with _timed(timings, "check-config"):
        steps.with_policy(steps.check_config, config)(config)
    with _timed(timings, "check-unchanged"):
        rerun = steps.with_policy(steps.check_unchanged, config)(config, force=force)
    if rerun.reusable is not None:
        return rerun.reusable
    folder = open_run_folder(config.dataset_dir, run_id=new_run_id())
    logger.info("run %s writes into %s", folder.run_id, folder.temp)
    try:
        with _timed(timings, "ingest"):
            ingested = steps.with_policy(steps.ingest, config)(config)
        with _timed(timings, "validate"):
            checked = steps.with_policy(steps.validate, config)(ingested, config, folder.temp)
        with _timed(timings, "split"):
            splits = steps.with_policy(steps.split, config)(
                checked.frame, ingested.columns, config, folder.temp
            )
        # From here on the split holds every row: drop the frames as read and as checked,
        # each a whole input's worth of memory at the rebalance step's peak.
        ingested, checked = ingested.without_frame(), checked.without_frame()
        weights = class_weights(
            label_counts(splits.train, ingested.columns.label), beta=config.class_weights.beta
        )
        with _timed(timings, "rebalance"):
            resampled = steps.with_policy(steps.rebalance, config)(
                splits.train, ingested.columns, config, folder.temp
            )
        manifest = build_manifest(
            config=config,
            run_id=folder.run_id,
            started_at=started_at,
            ingested=ingested,
            checked=checked,
            splits=splits,
            resampled=resampled,
            weights=weights,
            timings=timings,
            flow_run_id=str(runtime.flow_run.id) if runtime.flow_run.id else None,
            fingerprint=None if resampled.fell_back else rerun.fingerprint,
        )
        with _timed(timings, "report"):
            steps.with_policy(steps.report, config)(manifest, folder.temp)
        with _timed(timings, "verify"):
            steps.with_policy(steps.verify, config)(folder.temp, splits, ingested.columns, config)
        with _timed(timings, "publish"):
            final = steps.with_policy(steps.publish, config)(folder)
    except BaseException:
        discard_run_folder(folder)
        raise
    logger.info(
        "published %s: train %s → %s",
        final,
        manifest["counts"]["before"]["train"],
        manifest["counts"]["after"]["train"],
    )
    announce_ready(
        final,
        name=config.name,
        modality=config.modality,
        run_id=folder.run_id,
        downstream_deployment=downstream_deployment,
    )
    return final
