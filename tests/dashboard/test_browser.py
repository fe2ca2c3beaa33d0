"""A real browser on the real server: headless Chromium opens the Compare page.

Needs Debian's Chromium at ``$REGISTRY_TEST_CHROMIUM`` (scripts/ensure-chromium.sh prints it);
Playwright drives it through ``executable_path``, without downloading a browser of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboard.server import running_dashboard
from experiments.reporting import build_report
from tests.dashboard.conftest import Experiment

CHROMIUM = os.environ.get("REGISTRY_TEST_CHROMIUM")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM,
        reason="REGISTRY_TEST_CHROMIUM is not set (run scripts/ensure-chromium.sh for its path)",
    ),
]


def test_compare_page_in_headless_chromium(shared: Experiment, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    verdict = build_report(shared.db, shared.id).verdict
    screenshot = tmp_path / "compare.png"
    with running_dashboard(shared.url) as base_url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2600})
            page.goto(f"{base_url}/compare?experiment={shared.id}")
            alert = page.get_by_test_id("stAlertContainer").filter(has_text="Verdict:")
            expect(alert).to_contain_text(verdict.text, timeout=60_000)
            expect(page.get_by_text("SIMULATED").first).to_be_visible()
            table = page.get_by_test_id("stTable").first  # the statistics
            expect(table).to_be_visible(timeout=30_000)
            expect(table).to_contain_text("control")
            expect(table).to_contain_text("cheap")
            page.get_by_test_id("stVegaLiteChart").first.wait_for(timeout=30_000)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 20_000
    print(f"screenshot: {screenshot}")
