"""The pipeline flow: ingest → validate → drift → split → evaluate → rebalance train → report →
publish.

It only composes the tasks of `tasks/steps.py`; the work is in the modality packages,
`tasks/run/` and `validations/`.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from rebalance.config import ImageConfig, TabularConfig, TextConfig
from tasks import steps
from tasks.core.retry import with_policy
from tasks.run.manifest import utc_now
from tasks.run.ready import DeploymentName


@flow(name="rebalance-dataset", flow_run_name="{config.name}")
def rebalance_dataset(
    # A plain union, not the CLI's discriminated `RunConfig`: its JSON schema is `anyOf`, which
    # the Prefect UI renders as one form per modality (a `oneOf` falls back to a JSON editor).
    # `modality` and extra="forbid" still let exactly one member validate.
    config: TabularConfig | ImageConfig | TextConfig,
    downstream_deployment: DeploymentName | None = None,
    force: bool = False,
    publish: bool = True,
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
        publish: False for a trial: the same complete, verified run folder, kept in
            `<output>/<name>/trials/<run_id>/`; `latest` stays, retention, the drift guard
            and the rerun check ignore it, and no event is emitted. A trial always runs.
    """
    timings: dict[str, float] = {}
    started_at = utc_now()
    with steps.timed(timings, "check-config"):
        with_policy(steps.check_config, config)(config)
    with steps.timed(timings, "check-unchanged"):
        rerun = with_policy(steps.check_unchanged, config)(config, force=force or not publish)
    if rerun.reusable is not None:
        return rerun.reusable
    folder = steps.open_run(config, trial=not publish)
    try:
        with steps.timed(timings, "ingest"):
            ingested = with_policy(steps.ingest, config)(config)
        with steps.timed(timings, "validate"):
            checked = with_policy(steps.validate, config)(ingested, config, folder.temp)
        with steps.timed(timings, "drift"):
            drift = with_policy(steps.drift, config)(
                checked, ingested.columns, ingested.rows_read, config, folder.temp
            )
        with steps.timed(timings, "split"):
            splits = with_policy(steps.split, config)(
                checked.frame, ingested.columns, config, folder.temp
            )
        # From here on the split holds every row: drop the frames as read and as checked,
        # each a whole input's worth of memory at the rebalance step's peak.
        ingested, checked = ingested.without_frame(), checked.without_frame()
        with steps.timed(timings, "evaluate"):
            evaluated = with_policy(steps.evaluate, config)(
                splits.train, ingested.columns, config, folder.temp
            )
        with steps.timed(timings, "rebalance"):
            resampled = with_policy(steps.rebalance, config)(
                splits.train, ingested.columns, config, folder.temp, evaluated
            )
        manifest = steps.manifest_of(
            config,
            folder=folder,
            started_at=started_at,
            ingested=ingested,
            checked=checked,
            splits=splits,
            resampled=resampled,
            evaluated=evaluated,
            drift=drift,
            timings=timings,
            fingerprint=rerun.fingerprint,
        )
        with steps.timed(timings, "report"):
            with_policy(steps.report, config)(manifest, folder.temp)
        with steps.timed(timings, "verify"):
            with_policy(steps.verify, config)(folder.temp, splits, ingested.columns, config)
        with steps.timed(timings, "publish"):
            final = with_policy(steps.publish, config)(folder, config.retention.keep)
    except BaseException:
        steps.discard_run(folder)
        raise
    get_run_logger().info(
        "%s %s: train %s → %s",
        "published" if publish else "trial run, not published:",
        final,
        manifest["counts"]["before"]["train"],
        manifest["counts"]["after"]["train"],
    )
    if not publish:  # nothing to announce: training must not start on a trial
        return final
    steps.announce_ready(
        final,
        name=config.name,
        modality=config.modality,
        run_id=folder.run_id,
        downstream_deployment=downstream_deployment,
    )
    return final
