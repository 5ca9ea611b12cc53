"""deployments/automations.yaml: a valid Prefect automation that notifies on a failed nightly."""

import datetime as dt
import uuid
from pathlib import Path

import pytest
import yaml

AUTOMATIONS = Path(__file__).resolve().parents[2] / "deployments" / "automations.yaml"


def _automations() -> list[dict]:
    return yaml.safe_load(AUTOMATIONS.read_text(encoding="utf-8"))["automations"]


def _event(state: str, *, tags: list[str]):
    from prefect.server.events.schemas.events import ReceivedEvent

    return ReceivedEvent(
        occurred=dt.datetime.now(dt.UTC),
        event=f"prefect.flow-run.{state}",
        resource={"prefect.resource.id": f"prefect.flow-run.{uuid.uuid4()}"},
        related=[
            {"prefect.resource.id": f"prefect.tag.{tag}", "prefect.resource.role": "tag"}
            for tag in tags
        ],
        id=uuid.uuid4(),
    )


def test_the_file_is_what_prefect_automation_create_accepts():
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore

    (automation,) = [AutomationCore.model_validate(entry) for entry in _automations()]

    assert automation.name == "rebalance-nightly-failed"
    (action,) = automation.actions
    assert isinstance(action, SendNotification)
    assert "{{ flow_run.state.message }}" in action.body


@pytest.mark.parametrize(
    ("state", "tags", "notified"),
    [
        ("Failed", ["rebalance", "nightly"], True),
        ("Crashed", ["nightly"], True),
        ("Completed", ["rebalance", "nightly"], False),
        ("Failed", ["rebalance", "training"], False),
    ],
)
def test_it_fires_on_a_failed_or_crashed_nightly_run_only(state, tags, notified):
    from prefect.server.events.schemas.automations import AutomationCore

    (automation,) = [AutomationCore.model_validate(entry) for entry in _automations()]

    assert automation.trigger.covers(_event(state, tags=tags)) is notified
    assert automation.trigger.immediate


def test_the_nightly_deployments_carry_the_tag_it_matches():
    prefect_yaml = yaml.safe_load((AUTOMATIONS.parent / "prefect.yaml").read_text(encoding="utf-8"))

    nightly = [d for d in prefect_yaml["deployments"] if d["name"].endswith("-nightly")]
    assert nightly
    assert all("nightly" in deployment["tags"] for deployment in nightly)
