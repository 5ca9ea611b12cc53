"""The Data Docs site in headless Chromium with the network off: tables and statuses show.

Needs Debian's `chromium` (driven through Playwright's `executable_path`, no browser download);
`make test-browser` runs it.
"""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from tests.helpers import Entry
from tests.pipeline.test_deployments_browser import CHROMIUM, CHROMIUM_ARGS
from validations.data_docs import update_site
from validations.null_check import check_nulls

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_site_shows_its_runs_and_each_expectations_status_offline(tmp_path):
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (.ci/run does)")
    # GX writes values into its pages unescaped: this one must not run.
    hostile = "<img src=x onerror=\"document.title='ran'\">"
    frame = pl.DataFrame(
        {"age": [1, None, 3, 4], "label": ["a", "b", "a", "b"], "note": ["ok", hostile, "ok", "ok"]}
    )
    result = check_nulls(
        frame,
        columns=["age", "label"],
        dataset="toy",
        output_dir=tmp_path,
        expectations=[
            Entry("ExpectColumnValuesToBeInSet", {"column": "note", "value_set": ["ok"]})
        ],
    )
    site = tmp_path / "data_docs"
    page_path = update_site(
        site, dataset="toy", run_id="20261205T000000Z-abcdef", result_path=result.result_path,
        keep=3, failure="null values in 'age' (1)",
    )  # fmt: skip
    requested: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True)
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto((site / "index.html").as_uri())
            row = page.locator("#runs tr.run")
            index_row = (row.count(), row.first.is_visible(), row.first.inner_text())
            page.goto(page_path.as_uri())
            # GX's status icons (Font Awesome, a CDN font) show as characters.
            icons = page.locator("i.fa-check-circle, i.fa-times")
            widths = [icons.nth(i).bounding_box()["width"] for i in range(icons.count())]
            expectation_rows = page.locator("table tr", has_text="values must never be null")
            shown = expectation_rows.count(), expectation_rows.first.is_visible()
            title = page.title()
        finally:
            browser.close()

    assert index_row[:2] == (1, True)
    assert "20261205T000000Z-abcdef" in index_row[2]
    assert "✖ Failed" in index_row[2]
    assert len(widths) >= 4  # the overview's status and one per expectation
    assert min(widths) > 0
    assert shown == (2, True)
    assert title != "ran"
    assert [url for url in requested if not url.startswith("file://")] == []
