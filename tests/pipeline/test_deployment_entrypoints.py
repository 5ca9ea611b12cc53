"""deployments/prefect.yaml without a server: entrypoints load the way a worker loads them,
parameters validate against the flows, every config has its nightly deployment."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.templating import apply_values

from rebalance.config import load_config
from rebalance.deployments import config_parameters, read_prefect_file, run_build_steps

ROOT = Path(__file__).resolve().parents[2]
SPEC = read_prefect_file(ROOT / "deployments" / "prefect.yaml")
ENTRIES = {entry["name"]: entry for entry in SPEC["deployments"]}
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def built(monkeypatch_module):
    monkeypatch_module.chdir(ROOT)
    return run_build_steps(SPEC["build"])


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_entrypoint_loads_the_way_a_worker_loads_it(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    entrypoint = ENTRIES[name]["entrypoint"]

    flow = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)

    assert flow.name == ("train-classifier" if name == "train-on-ready" else "rebalance-dataset")
    assert inspect.getsourcefile(flow.fn) == str(ROOT / entrypoint.split(":")[0])


@pytest.mark.parametrize("config", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_every_config_has_a_nightly_deployment_whose_parameters_validate(
    config, built, monkeypatch
):
    monkeypatch.chdir(ROOT)
    entry = ENTRIES[f"{config.stem}-nightly"]
    flow = load_flow_from_entrypoint(entry["entrypoint"], use_placeholder_flow=False)
    parameters = apply_values(entry["parameters"], built)
    validated = flow.validate_parameters(parameters)["config"]

    expected = load_config(config)
    assert validated.source.resolve() == expected.source
    assert validated.output.resolve() == expected.output.resolve()
    paths = {"source", "output"}
    assert validated.model_dump(exclude=paths) == expected.model_dump(exclude=paths)
    assert entry["schedules"] == [SPEC["definitions"]["schedules"]["nightly"]]


def test_config_parameters_are_relative_to_the_project_root(monkeypatch):
    monkeypatch.chdir(ROOT)

    loans = config_parameters("configs")["loans"]

    assert loans["source"] == "demo/loans.csv"
    assert loans["output"] == "outputs"
    assert loans["rebalance"] == {
        "random_state": None,
        "sampler": "SMOTE",
        "params": {"sampling_strategy": "auto", "k_neighbors": 5},
        "candidates": ["class_weights", "RandomOverSampler", "SMOTE", "SMOTETomek"],
    }


def test_config_parameters_name_an_empty_folder(tmp_path):
    from rebalance.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no config files \(\*\.yaml\) in .*empty"):
        config_parameters(str(tmp_path / "empty"))


def test_trigger_parameters_are_the_training_flows_and_the_events_payload():
    from tasks.run.ready import ready_payload

    entry = ENTRIES["train-on-ready"]
    flow = load_flow_from_entrypoint(entry["entrypoint"], use_placeholder_flow=False)
    (trigger,) = entry["triggers"]
    payload = ready_payload("/x/run", modality="tabular", run_id="r1")

    assert trigger["expect"] == ["rebalance.dataset.ready"]
    assert trigger["parameters"] == {key: f"{{{{ event.payload.{key} }}}}" for key in payload}
    assert set(payload) <= set(inspect.signature(flow.fn).parameters)
