"""After a run is published: tell the world (a Prefect event) and optionally start a training job.

The event `rebalance.dataset.ready` is what automations match: its resource is the dataset
(`rebalance.dataset.<name>`), its payload says where the run's outputs are. The same payload is
the parameters of a downstream deployment started directly, so a training flow written for the
event trigger also works when started by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from prefect import get_run_logger
from prefect.exceptions import ObjectNotFound
from pydantic import Field

from rebalance.errors import ConfigError

READY_EVENT = "rebalance.dataset.ready"


def dataset_resource(name: str, /, *, modality: str) -> dict[str, str]:
    """The event's resource: one id per dataset, so a trigger can match one or all datasets."""
    return {
        "prefect.resource.id": f"rebalance.dataset.{name}",
        "prefect.resource.name": name,
        "rebalance.modality": modality,
    }


def ready_payload(run_folder: Path | str, /, *, modality: str, run_id: str) -> dict[str, str]:
    """Absolute paths, so a consumer in another working directory finds the outputs."""
    folder = Path(run_folder).resolve()
    return {
        "run_folder": str(folder),
        "manifest": str(folder / "manifest.json"),
        "modality": modality,
        "run_id": run_id,
    }


# `run_deployment` wants `<flow name>/<deployment name>`; checked with the flow's parameters,
# so a typo fails before any data is read (and the UI form shows the pattern).
DeploymentName = Annotated[
    str,
    Field(
        pattern=r"^[^/\s]+/[^/\s]+$",
        description="A deployment to start when the run is published, as "
        "'flow-name/deployment-name' (e.g. 'train-classifier/train-on-ready'). It gets the "
        "ready event's payload as parameters: run_folder, manifest, modality, run_id.",
    ),
]


def announce_ready(
    run_folder: str,
    /,
    *,
    name: str,
    modality: str,
    run_id: str,
    downstream_deployment: str | None = None,
) -> dict[str, Any]:
    """Emit `rebalance.dataset.ready`; start `downstream_deployment` without waiting for it.

    Returns:
        The event's payload, plus `event_id` and, when a deployment was started,
        `downstream_flow_run_id`.
    """
    from prefect.deployments import run_deployment
    from prefect.events import emit_event

    logger = get_run_logger()
    payload = ready_payload(run_folder, modality=modality, run_id=run_id)
    event = emit_event(
        event=READY_EVENT,
        resource=dataset_resource(name, modality=modality),
        payload=payload,
    )
    result: dict[str, Any] = {**payload, "event_id": str(event.id) if event else None}
    logger.info("emitted %s for %s (%s)", READY_EVENT, name, payload["run_folder"])
    if downstream_deployment:
        try:
            flow_run = run_deployment(downstream_deployment, parameters=payload, timeout=0)
        except ObjectNotFound:
            msg = (
                f"downstream_deployment {downstream_deployment!r} does not exist on the Prefect "
                "server; deploy it first or check `prefect deployment ls`"
            )
            raise ConfigError(msg) from None
        result["downstream_flow_run_id"] = str(flow_run.id)
        logger.info("started %s as flow run %s", downstream_deployment, flow_run.name)
    return result
