"""The deployments of `deployments/prefect.yaml`, for `prefect deploy` and for `rebalance serve`.

`prefect deploy --all --prefect-file deployments/prefect.yaml` runs `config_parameters` as a
build step: it reads every `configs/*.yaml` into the flow's `config` parameter, so the Prefect UI
shows each config as a form. `serve_deployments` builds the same deployments from the same file
and serves them from one process, for a machine without a work pool.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from rebalance.config import load_config
from rebalance.config.yaml_reader import YamlLimitError, read_yaml
from rebalance.errors import ConfigError

PREFECT_FILE = Path("deployments/prefect.yaml")


def config_parameters(directory: str = "configs", root: str | None = None) -> dict[str, Any]:
    """Prefect build step: every config in `directory`, by file stem, as the flow's parameter.

    Paths inside the project become relative to `root` (the working directory, the project
    root, by default): deployments run there (their pull step sets that working directory),
    and the same deployment then works from any checkout of the project.

    Returns:
        `{stem: config}` for `{{ configs.<stem> }}` in prefect.yaml, where `configs` is the
        step's id.
    """
    base = Path(root or os.getcwd()).resolve()
    found = sorted(Path(directory).glob("*.yaml"))
    if not found:
        msg = f"no config files (*.yaml) in {Path(directory).resolve()}; add one per dataset"
        raise ConfigError(msg)
    return {path.stem: _portable(load_config(path).model_dump(mode="json"), base) for path in found}


def _portable(config: dict[str, Any], base: Path) -> dict[str, Any]:
    for key in ("source", "output"):
        path = Path(config[key])
        if path.is_relative_to(base):
            config[key] = path.relative_to(base).as_posix() or "."
    return config


def read_prefect_file(path: Path | str = PREFECT_FILE, /) -> dict[str, Any]:
    """prefect.yaml as a mapping, its YAML anchors resolved."""
    try:
        spec = read_yaml(Path(path).read_text(encoding="utf-8"), origin=str(path))
    except FileNotFoundError:
        msg = f"{path} not found; run from the project root or pass --prefect-file"
        raise ConfigError(msg) from None
    except yaml.YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0]
        msg = f"{path} is not valid YAML ({first_line}); fix the syntax"
        raise ConfigError(msg) from None
    except YamlLimitError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(spec, dict) or not spec.get("deployments"):
        msg = f"{path} declares no deployments; see deployments/prefect.yaml in the project"
        raise ConfigError(msg)
    return spec


def runner_deployments(path: Path | str = PREFECT_FILE, /) -> list[Any]:
    """The file's deployments as `RunnerDeployment`s: same flows, parameters, schedules and
    triggers as `prefect deploy` makes of it (work pools aside: `serve` runs them itself)."""
    from prefect.cli.deploy._triggers import DeploymentTriggerAdapter
    from prefect.flows import load_flow_from_entrypoint
    from prefect.schedules import Cron
    from prefect.utilities.templating import apply_values

    spec = read_prefect_file(path)
    built: dict[Any, dict[str, Any]] = {}
    deployments = []
    for entry in spec["deployments"]:
        steps = entry.get("build", spec.get("build")) or []
        key = yaml.safe_dump(steps)
        if key not in built:
            built[key] = run_build_steps(steps)
        outputs = built[key]
        flow = load_flow_from_entrypoint(entry["entrypoint"], use_placeholder_flow=False)
        schedules = [
            Cron(item["cron"], timezone=item.get("timezone"), active=item.get("active", True))
            for item in entry.get("schedules", [])
        ]
        triggers = [
            DeploymentTriggerAdapter.validate_python(
                {"name": f"{entry['name']}__automation_{index}", **trigger}
            )
            for index, trigger in enumerate(entry.get("triggers", []), start=1)
        ]
        deployments.append(
            flow.to_deployment(
                name=entry["name"],
                parameters=apply_values(entry.get("parameters", {}), outputs),
                schedules=schedules or None,
                triggers=triggers or None,
                description=entry.get("description"),
                tags=entry.get("tags"),
            )
        )
    return deployments


def run_build_steps(steps: list[dict[str, Any]], /) -> dict[str, Any]:
    """Outputs of prefect.yaml build steps, as `prefect deploy` templates them: each step's
    output by its id and merged in. Unlike Prefect's runner, it emits no step events, so it
    needs no API (serve's server is not up yet when the deployments are built)."""
    from prefect.utilities.importtools import import_object
    from prefect.utilities.templating import apply_values

    outputs: dict[str, Any] = {}
    for step in steps:
        ((name, inputs),) = step.items()
        inputs = apply_values(dict(inputs or {}), outputs)
        step_id = inputs.pop("id", None)
        inputs.pop("requires", None)
        output = import_object(name)(**inputs)
        if isinstance(output, dict):
            if step_id:
                outputs[step_id] = output
            outputs.update(output)
    return outputs


def serve_deployments(path: Path | str = PREFECT_FILE, /) -> None:
    """Serve every deployment of prefect.yaml from this process until interrupted."""
    from prefect import serve

    serve(*runner_deployments(path))
