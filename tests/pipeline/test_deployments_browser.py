"""The Prefect UI in headless Chromium: a custom run of a nightly deployment from its form.

Needs Debian's `chromium` (driven through Playwright's `executable_path`, no browser download);
`.ci/run` installs it and runs `make test-browser`.
"""

from __future__ import annotations

import re
import shutil
import time

import pytest

from rebalance.config import SplitConfig
from tests.deployed import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium's own connections are refused by a closed
# network and slow every page; Playwright gives each launch a fresh user-data-dir.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = ROOT / "build" / "browser" / "loans-nightly-custom-run.png"
RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def _form_property(page, label: str):
    """One schema-form property; the innermost property with that label."""
    label_text = page.locator(".schema-form-property__label", has_text=re.compile(f"^{label}"))
    return page.locator(".schema-form-property", has=label_text).last


def _form_input(page, label: str):
    """The text input of one schema-form property."""
    return _form_property(page, label).locator("input, textarea").first


def _submit(page, attempts: int = 3) -> None:
    """Click Submit until the UI says the run is scheduled, as a person would.

    Before it creates the run, the UI validates the parameters with a server call; on a
    loaded 2-core machine the SQLite-backed server sometimes answers 503 (database busy),
    which Prefect's Python client retries and the UI does not: the form then just stays
    (seen once in a fresh-clone CI run). A second click creating a second run would fail
    the one-new-run check below, so retrying cannot hide a double submit.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(attempts):
        page.get_by_role("button", name="Submit", exact=True).click()
        try:
            page.get_by_text("scheduled to start").first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeoutError:
            if attempt == attempts - 1:
                raise


def _submitted_runs(deployed, deployment_id: str, before: set[str]) -> list[dict]:
    """The deployment's runs made since `before`, other than the ones its schedule made."""
    return [
        run
        for run in deployed.runs_of(deployment_id)
        if run["id"] not in before and not run["auto_scheduled"]
    ]


def test_a_custom_run_from_the_ui_form_runs_with_the_edited_parameter(deployed, page):
    deployment = deployed.deployment("rebalance-dataset", "loans-nightly")
    before = {run["id"] for run in deployed.runs_of(deployment["id"])}

    page.goto(f"{deployed.ui_url}/deployments/deployment/{deployment['id']}")
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Custom run").click()
    # The form shows the config model: descriptions, defaults filled in, enums as selects.
    # (The UI renders the description's markdown: look for its text before the first code span.)
    seed_help = SplitConfig.model_fields["seed"].description.partition("`")[0].strip()
    page.get_by_text(seed_help).first.wait_for()
    assert _form_input(page, "Seed").input_value() == "42"
    # The sampler is a select of imbalanced-learn's names: the form cannot take a misspelt one.
    sampler = _form_property(page, "Sampler").locator(".p-select-button__value")
    assert sampler.inner_text() == "SMOTE"
    _form_input(page, "Seed").fill("11")
    _submit(page)
    started = time.monotonic()

    deadline = started + RUN_TIMEOUT
    # Prefect's scheduler service may add the nightly schedule's runs meanwhile
    # (`auto_scheduled`); the form's run is the one new run besides them.
    while not (new := _submitted_runs(deployed, deployment["id"], before)):
        assert time.monotonic() < deadline, "the form's submit created no flow run"
        time.sleep(1)
    (created,) = new
    page.goto(f"{deployed.ui_url}/runs/flow-run/{created['id']}")
    finished = deployed.wait_for_run(created["id"], timeout=RUN_TIMEOUT)
    page.get_by_text("Completed", exact=True).first.wait_for(timeout=60_000)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    print(f"UI run: submit → completed in {time.monotonic() - started:.1f} s; {SCREENSHOT}")

    assert finished["state_type"] == "COMPLETED", deployed.tail_logs()
    assert finished["parameters"]["config"]["split"]["seed"] == 11
    assert finished["parameters"]["config"]["rebalance"]["sampler"] == "SMOTE"
