"""One Great Expectations Data Docs site per dataset, updated by every run, readable offline.

`<output>/<name>/data_docs/` holds, outside the run folders:

    index.html            the runs, newest first: status, expectations met, what failed
    runs/<run_id>.html    GX's validation page of that run, rendered from its result.json
    runs.json             what the index lists (the last `keep` runs)
    static/               offline.css, and GX's logo and favicon copied from its package

A run adds its page and its line (a run that fails validation too: the page says why), and
the pages of runs beyond the last `keep` are deleted. Runs of one dataset update the site
one at a time (a file lock), and the index is replaced atomically.

GX's pages load Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs, and its
index draws its table with bootstrap-table: offline, the index is empty and the status icons
are blank. So the pages are made static: every remote script and stylesheet is removed (the
scripts only sort, filter and collapse), the logo comes from GX's package, `offline.css`
gives tables their lines and the status icons a visible symbol, and the index is our own
plain HTML table. Nothing on the site needs the network to show its tables and statuses.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from validations.expectations import outcomes

DATA_DOCS = "data_docs"
INDEX = "index.html"
RUNS_FILE = "runs.json"
PAGES = "runs"
STATIC = "static"
TEMPLATES = Path(__file__).with_name("templates")
STYLESHEET = TEMPLATES / "data_docs_offline.css"
# GX's own images, copied from its package beside the pages.
GX_IMAGES = ("logo-long.png", "favicon.ico")

# Every page of the site runs no script (inline handlers included) and loads nothing remote.
NO_SCRIPTS = (
    '<meta http-equiv="Content-Security-Policy" '
    "content=\"script-src 'none'; object-src 'none'; connect-src 'none'\">"
)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_REMOTE_LINK = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>", re.IGNORECASE)
_REMOTE_CSS_URL = re.compile(r"url\(['\"]?https?://[^)]*\)", re.IGNORECASE)
_LOGO = re.compile(r"src=\"https?://[^\"]*/logo-long\.png[^\"]*\"")
_UP_TO_INDEX = re.compile(r"href=\"(?:\.\./)+index\.html\"")
_UP_TO_STATIC = re.compile(r"(href|src)=\"(?:\.\./)+static/")
_SUITE_PAGE = re.compile(r"href=\"(?:\.\./)+expectations/[^\"]*\"")


def run_page(run_id: str, /) -> str:
    """A run's page, relative to the site's root."""
    return f"{PAGES}/{run_id}.html"


def data_docs_link(path: str, /) -> str:
    """A file of the site (`index.html`, a run's page) as a link from a run folder."""
    return f"../{DATA_DOCS}/{path}"


def update_site(
    site: Path,
    /,
    *,
    dataset: str,
    run_id: str,
    result_path: Path,
    keep: int,
    failure: str | None = None,
) -> Path:
    """Add a run's validation to the dataset's site, keep the last `keep` runs, rewrite the
    index; returns the run's page.

    Args:
        site: `<output>/<name>/data_docs`, created if missing.
        dataset: The dataset's name, the index's title.
        run_id: The run's id: its page's name and the run name on the page.
        result_path: The run's `validation/result.json` (GX's validation result).
        keep: How many runs the site keeps (the newest); older pages are deleted.
        failure: Why validation stopped the run, when it did (shown on the index).

    Raises:
        OSError: the site cannot be written.
        ValueError: `result_path` is not a GX validation result.
    """
    result = json.loads(result_path.read_text(encoding="utf-8"))
    # The run's id, where GX shows its run name (the checkpoint ran without one).
    result.setdefault("meta", {})["run_id"] = {
        **(result["meta"].get("run_id") or {}),
        "run_name": run_id,
    }
    page = site / run_page(run_id)
    page.parent.mkdir(parents=True, exist_ok=True)
    html = offline_page(render_validation_page(result), depth=1)
    with FileLock(site / ".lock"):
        _write_atomically(page, html)
        runs = [entry for entry in _read_runs(site) if entry["run_id"] != run_id]
        # Newest first, in the order runs validated (not by clock: hosts may differ).
        runs.insert(0, run_entry(result, run_id=run_id, failure=failure))
        kept, dropped = runs[:keep], runs[keep:]
        pages = (site / PAGES).resolve()
        for entry in dropped:
            old = (site / run_page(str(entry.get("run_id")))).resolve()
            if old.parent == pages:  # never a file outside runs/, whatever runs.json says
                old.unlink(missing_ok=True)
        _copy_static(site)
        _write_atomically(site / RUNS_FILE, json.dumps(kept, indent=2))
        _write_atomically(site / INDEX, render_index(kept, dataset=dataset, keep=keep))
    return page


def run_entry(result: Mapping[str, Any], /, *, run_id: str, failure: str | None) -> dict[str, Any]:
    """The index's line for one run: status, counts, and the declared expectations missed."""
    stats = result.get("statistics") or {}
    found = outcomes(result)
    meta = result.get("meta") or {}
    validated_at = meta.get("validation_time") or (meta.get("run_id") or {}).get("run_time")
    return {
        "run_id": run_id,
        "validated_at": validated_at or dt.datetime.now(dt.UTC).isoformat(),
        "status": _status(bool(result.get("success")), found, failure),
        "evaluated": stats.get("evaluated_expectations", 0),
        "successful": stats.get("successful_expectations", 0),
        "failed": [_line(outcome) for outcome in found if outcome.status == "failed"],
        "warnings": [_line(outcome) for outcome in found if outcome.status == "warning"],
        "batches": meta.get("batches", 1),
        "failure": failure,
        "page": run_page(run_id),
    }


def _status(success: bool, found: Any, failure: str | None) -> str:
    if failure is not None:
        return "Failed"
    if not success:
        # Only warn-severity expectations were missed (a fail one would have stopped it).
        return "Passed with warnings"
    return "Succeeded"


def _line(outcome: Any) -> str:
    return f"{outcome.expectation} on {outcome.target()}: {outcome.observed}"


def render_validation_page(result: Mapping[str, Any], /) -> str:
    """GX's HTML page of one validation result (with its CDN links: see `offline_page`)."""
    from great_expectations.core.expectation_validation_result import (
        expectationSuiteValidationResultSchema,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    validation = expectationSuiteValidationResultSchema.load(dict(result))
    document = ValidationResultsPageRenderer().render(validation)
    return DefaultJinjaPageView().render(document)


def offline_page(html: str, /, *, depth: int) -> str:
    """A GX page that shows everything with no network: remote scripts and stylesheets
    removed, the logo and links pointed inside the site, `static/offline.css` linked.

    Args:
        html: The page as GX rendered it.
        depth: Folders between the page and the site's root (1 for `runs/<id>.html`).
    """
    up = "../" * depth
    html = _SCRIPT.sub("", html)
    html = _REMOTE_LINK.sub("", html)
    html = _REMOTE_CSS_URL.sub("none", html)
    html = _LOGO.sub(f'src="{up}{STATIC}/logo-long.png"', html)
    html = _UP_TO_INDEX.sub(f'href="{up}{INDEX}"', html)
    html = _UP_TO_STATIC.sub(rf'\1="{up}{STATIC}/', html)
    html = html.replace(f"{up}{STATIC}/images/", f"{up}{STATIC}/")
    # The suite's own page is not part of this site: the validation page lists it whole.
    html = _SUITE_PAGE.sub(f'href="{up}{INDEX}"', html)
    stylesheet = f'<link rel="stylesheet" href="{up}{STATIC}/{STYLESHEET.name}">'
    html = html.replace("</head>", f"  {stylesheet}\n  </head>", 1)
    # GX writes the data's values into its pages unescaped: a value such as
    # `<img src=x onerror=...>` would run. No script runs on these pages at all.
    return re.sub(r"<head>", f"<head>\n    {NO_SCRIPTS}", html, count=1, flags=re.IGNORECASE)


def render_index(runs: list[dict[str, Any]], /, *, dataset: str, keep: int) -> str:
    """The site's index: one row per run, newest first, as plain HTML (no script)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    template = environment.get_template("data_docs_index.html.j2")
    return template.render(
        dataset=dataset,
        runs=runs,
        keep=keep,
        stylesheet=STYLESHEET.name,
        no_scripts=Markup(NO_SCRIPTS),
    )


def _read_runs(site: Path) -> list[dict[str, Any]]:
    try:
        runs = json.loads((site / RUNS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return runs if isinstance(runs, list) else []


def _copy_static(site: Path) -> None:
    static = site / STATIC
    static.mkdir(exist_ok=True)
    _copy_atomically(STYLESHEET, static / STYLESHEET.name)
    # Found without importing GX (seconds): only its files are needed.
    spec = importlib.util.find_spec("great_expectations")
    package = Path(next(iter(spec.submodule_search_locations or [])))
    images = package / "render" / "view" / "static" / "images"
    for name in GX_IMAGES:
        copied = static / name
        if not copied.is_file() or copied.stat().st_size != (images / name).stat().st_size:
            _copy_atomically(images / name, copied)


def _copy_atomically(source: Path, target: Path) -> None:
    # A copy cut short (a full disk) is never left under the target's name, where a later
    # run would take it for a good one.
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)


def _write_atomically(path: Path, text: str) -> None:
    # A reader (a browser, a copy to a web server) never sees a half-written page.
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staging.write_text(text, encoding="utf-8")
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
