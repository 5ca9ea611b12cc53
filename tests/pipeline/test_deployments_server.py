"""The deployments against a real Prefect server: a UI-style run, the event, the chained
training run, the nightly schedules. One server for the session (`deployed` in conftest.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.deployed import ROOT

pytestmark = [pytest.mark.server, pytest.mark.slow]

RUN_TIMEOUT = 300
TRAINING = ("train-classifier", "train-on-ready")


@pytest.fixture(scope="module")
def ui_run(deployed):
    """loans-nightly started the way the UI's run form does, with edited parameters."""
    deployment = deployed.deployment("rebalance-dataset", "loans-nightly")
    parameters = json.loads(json.dumps(deployment["parameters"]))
    parameters["config"]["split"]["seed"] = 7
    parameters["config"]["rebalance"] = {
        "sampler": "RandomOverSampler",
        "params": {"sampling_strategy": "auto"},
    }
    parameters["downstream_deployment"] = "/".join(TRAINING)
    started = time.monotonic()
    with deployed.client() as client:
        response = client.post(
            f"/deployments/{deployment['id']}/create_flow_run",
            json=_ui_body(parameters),
        )
    assert response.status_code == 201, response.text
    run = deployed.wait_for_run(response.json()["id"], timeout=RUN_TIMEOUT)
    elapsed = time.monotonic() - started
    print(f"UI-style run: created → {run['state_type']} in {elapsed:.1f} s")
    return deployment, parameters, run


def _ui_body(parameters):
    # What the Prefect UI (v2) posts from a deployment's "Custom run" form.
    return {
        "state": {
            "type": "SCHEDULED",
            "message": "Run from the Prefect UI",
            "state_details": {
                "deferred": False,
                "untrackable_result": False,
                "pause_reschedule": False,
            },
        },
        "parameters": parameters,
        "enforce_parameter_schema": True,
    }


def _ready_events(deployed, flow_run_id, *, timeout=60):
    """The run's ready events, polled: the server persists events in batches, seconds later."""
    query = {
        "filter": {
            "event": {"name": ["rebalance.dataset.ready"]},
            "related": {"resources_in_roles": [[f"prefect.flow-run.{flow_run_id}", "flow-run"]]},
            "occurred": {"since": "2000-01-01T00:00:00Z"},
        }
    }
    deadline = time.monotonic() + timeout
    with deployed.client() as client:
        while True:
            response = client.post("/events/filter", json=query)
            response.raise_for_status()
            events = response.json()["events"]
            if events or time.monotonic() > deadline:
                return events
            time.sleep(1)


def test_ui_run_with_edited_parameters_completes_with_them(deployed, ui_run):
    _, _, run = ui_run
    assert run["state_type"] == "COMPLETED", deployed.tail_logs()
    assert run["parameters"]["config"]["split"]["seed"] == 7

    latest = deployed.project / "outputs" / "loans" / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["prefect"]["flow_run_id"] == run["id"]
    assert manifest["config"]["split"]["seed"] == 7
    assert manifest["rebalance"]["sampler"] == "RandomOverSampler"
    after = manifest["counts"]["after"]["train"]
    assert (
        after["Approved"] == after["Rejected"] == manifest["counts"]["before"]["train"]["Rejected"]
    )


def test_the_run_emitted_its_ready_event(deployed, ui_run):
    _, _, run = ui_run
    latest = (deployed.project / "outputs" / "loans" / "latest").resolve()

    events = _ready_events(deployed, run["id"])

    assert len(events) == 1
    event = events[0]
    assert event["resource"]["prefect.resource.id"] == "rebalance.dataset.loans"
    assert event["payload"] == {
        "run_folder": str(latest),
        "manifest": str(latest / "manifest.json"),
        "modality": "tabular",
        "run_id": latest.name,
    }


def test_training_ran_because_of_the_event_and_when_asked_directly(deployed, ui_run):
    _, _, run = ui_run
    payload = _ready_events(deployed, run["id"])[0]["payload"]
    training = deployed.deployment(*TRAINING)
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(runs := deployed.runs_of(training["id"])) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    finished = [deployed.wait_for_run(item["id"], timeout=RUN_TIMEOUT) for item in runs]

    by_automation = [
        item for item in finished if (item["created_by"] or {}).get("type") == "AUTOMATION"
    ]
    direct = [item for item in finished if item["parent_task_run_id"]]
    assert len(finished) == 2
    assert len(by_automation) == 1 and len(direct) == 1
    for item in finished:
        assert item["state_type"] == "COMPLETED", deployed.tail_logs()
        assert item["parameters"] == payload
    with deployed.client() as client:
        automations = client.get(
            f"/automations/related-to/prefect.deployment.{training['id']}"
        ).json()
        artifact = client.post(
            "/artifacts/latest/filter", json={"artifacts": {"key": {"any_": ["loans-training"]}}}
        ).json()
    assert by_automation[0]["created_by"]["id"] == automations[0]["id"]
    assert "| as published | test split | " in artifact[0]["data"]
    assert "| no resampling | test split | " in artifact[0]["data"]


def test_ui_run_with_invalid_parameters_is_refused_before_running(deployed):
    deployment = deployed.deployment("rebalance-dataset", "loans-nightly")
    parameters = json.loads(json.dumps(deployment["parameters"]))
    parameters["config"]["validation"]["null_policy"] = "ignore"
    before = len(deployed.runs_of(deployment["id"]))

    with deployed.client() as client:
        response = client.post(
            f"/deployments/{deployment['id']}/create_flow_run", json=_ui_body(parameters)
        )

    assert response.status_code == 409
    # The config is a union over modalities, so the server names the parameter, not the key.
    assert "Validation failed for field 'config'" in response.text
    assert len(deployed.runs_of(deployment["id"])) == before


def test_every_config_has_a_nightly_deployment_with_the_configured_schedule(deployed):
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    expected = spec["definitions"]["schedules"]["nightly"]

    for config in sorted((ROOT / "configs").glob("*.yaml")):
        deployment = deployed.deployment("rebalance-dataset", f"{config.stem}-nightly")
        schedules = deployment["schedules"]
        assert [item["schedule"]["cron"] for item in schedules] == [expected["cron"]]
        assert schedules[0]["schedule"]["timezone"] == expected["timezone"]
        assert schedules[0]["active"] is True
        assert (
            deployment["parameters"]["config"]["name"] == yaml.safe_load(config.read_text())["name"]
        )
        # Sources resolve inside the project (an image folder exists only after `make demo`).
        source = Path(deployed.project, deployment["parameters"]["config"]["source"])
        assert source.name == Path(yaml.safe_load(config.read_text())["source"]).name
        assert source.resolve().is_relative_to(Path(deployed.project).resolve())


def test_serve_builds_the_deployments_prefect_deploy_registered(deployed, monkeypatch):
    from rebalance.deployments import runner_deployments

    monkeypatch.chdir(deployed.project)
    served = {item.name: item for item in runner_deployments()}

    for name, local in served.items():
        registered = deployed.deployment(local.flow_name, name)
        assert local.parameters == registered["parameters"]
        assert [
            (item.schedule.cron, item.schedule.timezone, item.active) for item in local.schedules
        ] == [
            (item["schedule"]["cron"], item["schedule"]["timezone"], item["active"])
            for item in registered["schedules"]
        ]
        with deployed.client() as client:
            automations = client.get(
                f"/automations/related-to/prefect.deployment.{registered['id']}"
            ).json()
        assert [trigger.parameters for trigger in local.triggers] == [
            automation["actions"][0]["parameters"] for automation in automations
        ]
