"""Prefect artifacts a run publishes besides the report: keyed per dataset, so the UI shows each
key's history night by night. Outside a flow run (tests, `rebalance validate`) nothing is sent."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from tasks.core.markdown import code_span


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


# A markdown link, not an image, whose target is a relative path (no scheme, no anchor).
_RELATIVE_LINK = re.compile(
    r"(?<!!)\[((?:\\.|[^\]\\])*)\]\((?![A-Za-z][A-Za-z0-9+.-]*:|#|/)([^)\s]+)\)"
)
_ESCAPED = re.compile(r"\\(.)")


def local_links_as_paths(markdown: str, folder: Path, /) -> str:
    """Markdown whose links to relative paths (report.md's link to the Data Docs site beside
    the run folders) show the file's absolute path as text instead: the Prefect UI resolves
    them against its own address, where they lead nowhere, and browsers do not follow
    `file://` links from a web page."""

    def as_path(match: re.Match[str]) -> str:
        label = _ESCAPED.sub(r"\1", match.group(1))
        path = str((folder / match.group(2)).resolve())
        return str(code_span(path)) if label == match.group(2) else f"{label} ({code_span(path)})"

    return _RELATIVE_LINK.sub(as_path, markdown)


def artifact_markdown(markdown: str, folder: Path, /) -> str:
    """report.md's markdown made for a Prefect artifact: the PNG files of `folder` it shows
    inline (`inline_images`), its other relative links as absolute paths."""
    return local_links_as_paths(inline_images(markdown, folder), folder)
