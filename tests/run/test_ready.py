"""The ready event's resource and payload, and the downstream deployment name check."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError

from tasks.run.ready import dataset_resource, ready_payload


def test_the_resource_is_the_dataset():
    assert dataset_resource("loans", modality="tabular") == {
        "prefect.resource.id": "rebalance.dataset.loans",
        "prefect.resource.name": "loans",
        "rebalance.modality": "tabular",
    }


def test_the_payload_holds_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    payload = ready_payload(Path("outputs/loans/r1"), modality="image", run_id="r1")

    assert payload == {
        "run_folder": str(tmp_path / "outputs" / "loans" / "r1"),
        "manifest": str(tmp_path / "outputs" / "loans" / "r1" / "manifest.json"),
        "modality": "image",
        "run_id": "r1",
    }


@pytest.mark.parametrize("name", ["train-on-ready", "a/b/c", "flow/ deployment", "/x"])
def test_a_malformed_downstream_deployment_fails_before_the_run(name):
    from flows.rebalance_flow import rebalance_dataset

    config = {"name": "t", "source": "t.csv", "label": "y"}

    with pytest.raises(ParameterTypeError, match="downstream_deployment"):
        rebalance_dataset.validate_parameters({"config": config, "downstream_deployment": name})


def test_a_well_formed_downstream_deployment_passes():
    from flows.rebalance_flow import rebalance_dataset

    config = {"name": "t", "source": "t.csv", "label": "y"}
    name = "train-classifier/train-on-ready"

    validated = rebalance_dataset.validate_parameters(
        {"config": config, "downstream_deployment": name}
    )

    assert validated["downstream_deployment"] == name
