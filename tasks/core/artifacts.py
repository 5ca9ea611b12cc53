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


# A markdown image whose target is a PNG file name or a relative path (no scheme, no query).
_LOCAL_PNG = re.compile(r"!\[([^\]]*)\]\(([A-Za-z0-9_./-]+\.png)\)")


def inline_images(markdown: str, folder: Path, /) -> str:
    """Markdown whose images linking PNG files of `folder` (report.md's charts, a contact
    sheet) carry them as data URIs instead, for an artifact the UI shows without the folder.
    Links to anything outside `folder` or to missing files are left as they are."""
    root = folder.resolve()

    def inline(match: re.Match[str]) -> str:
        path = (folder / match.group(2)).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            return match.group(0)
        return f"![{match.group(1)}]({png_data_uri(path)})"

    return _LOCAL_PNG.sub(inline, markdown)
