"""`rebalance serve` on a fresh server: the deployments of prefect.yaml, served from one process
(no work pool, no deploy, no worker), run and chain like the deployed ones."""

from __future__ import annotations

import time

import httpx
import pytest

from rebalance.deployments import read_prefect_file
from tests.deployed import ROOT, deploy_project

pytestmark = [pytest.mark.server, pytest.mark.slow]

TIMEOUT = 300


def _wait_for_deployment(served, flow_name, name):
    """The deployment once the serve process polls for it (status READY)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            deployment = served.deployment(flow_name, name)
            if deployment["status"] == "READY":
                return deployment
        except httpx.HTTPStatusError:
            pass
        assert time.monotonic() < deadline, f"{flow_name}/{name} not served" + served.tail_logs()
        time.sleep(1)


def test_served_nightly_deployment_runs_and_triggers_training():
    with deploy_project(serve=True) as served:
        nightly = _wait_for_deployment(served, "rebalance-dataset", "loans-nightly")
        training = _wait_for_deployment(served, "train-classifier", "train-on-ready")
        with served.client() as client:
            response = client.post(
                f"/deployments/{nightly['id']}/create_flow_run",
                json={"parameters": nightly["parameters"]},
            )
        assert response.status_code == 201, response.text
        run = served.wait_for_run(response.json()["id"], timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not (runs := served.runs_of(training["id"])) and time.monotonic() < deadline:
            time.sleep(1)
        trained = [served.wait_for_run(item["id"], timeout=TIMEOUT) for item in runs]

        # Inside the block: a failure keeps the folder, logs included.
        assert nightly["work_pool_name"] is None
        expected = read_prefect_file(ROOT / "deployments" / "prefect.yaml")
        cron = expected["definitions"]["schedules"]["nightly"]["cron"]
        assert [item["schedule"]["cron"] for item in nightly["schedules"]] == [cron]
        assert run["state_type"] == "COMPLETED", served.tail_logs()
        assert [(item["state_type"], item["created_by"]["type"]) for item in trained] == [
            ("COMPLETED", "AUTOMATION")
        ]
        assert trained[0]["parameters"]["run_folder"].startswith(str(served.project / "outputs"))
