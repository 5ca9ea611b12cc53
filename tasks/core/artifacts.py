"""Prefect artifacts a run publishes besides the report: keyed per dataset, so the UI shows each
key's history night by night. Outside a flow run (tests, `rebalance validate`) nothing is sent."""

from __future__ import annotations

import base64
import re
from pathlib import Path


def artifact_key(name: str, suffix: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"
    return f"{slug}-{suffix}"


def in_flow_run() -> bool:
    """Whether this code runs inside a Prefect flow run (else artifacts and tasks are skipped)."""
    from prefect.context import FlowRunContext

    return FlowRunContext.get() is not None


def publish_markdown(dataset: str, suffix: str, /, *, markdown: str, description: str) -> None:
    """A markdown artifact keyed `<dataset>-<suffix>`, inside a flow run only."""
    if not in_flow_run():
        return
    from prefect.artifacts import create_markdown_artifact

    create_markdown_artifact(
        key=artifact_key(dataset, suffix), markdown=markdown, description=description
    )


def png_data_uri(path: Path, /) -> str:
    """A PNG as a data URI: markdown artifacts have no file beside them, and the Prefect UI
    renders these (it strips inline SVG and does not render mermaid)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
