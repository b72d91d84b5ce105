"""Every page of the app, in Debian Chromium against `streamlit run`: renders, shows no exception, and is
screenshotted into artifacts/screenshots/ for a reviewer."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import AppServer, assert_no_exception, open_page, page_path, page_scripts, screenshot, wait_idle
from datadirs import UCF101_EXTRA

pytestmark = pytest.mark.e2e
SCRIPTS = page_scripts()


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_page_renders(browser: object, app_server: AppServer, script: Path, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue("shared_data") if script.stem.endswith("Dataset") else None  # its grid needs it
    page = open_page(browser, f"{app_server.url}/{page_path(script)}")
    try:
        page.wait_for_selector("h1", timeout=60000)
        assert_no_exception(page)
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        for other in SCRIPTS[1:]:  # every page is reachable from the sidebar, Home by its name
            assert page_path(other) in nav, nav
        assert "Home" in nav and "app" not in nav.split(), nav
        if script.stem.endswith("Home"):
            assert "HAR Studio" in page.locator("h1").first.inner_text()
            page.get_by_text("Details: synthetic").first.wait_for(timeout=30000)  # models from weights/
        if data is not None:  # the server's data: UCF50's classes and UCF101's beside them, a clip of each
            classes = [d for root in (data, UCF101_EXTRA) if root.is_dir() for d in root.iterdir() if d.is_dir()]
            page.get_by_text("A random clip of each class").wait_for(timeout=60000)
            classes_shown = page.locator('[data-testid="stMetric"]').filter(has_text="Classes")
            assert classes_shown.locator('[data-testid="stMetricValue"]').inner_text() == str(len(classes))
            grid = page.locator('[data-testid="stImage"] img')
            grid.nth(len(classes) - 1).wait_for(timeout=60000)  # pictures arrive one by one: wait for the last
            assert grid.count() == len(classes)
        screenshot(page, f"page-{script.stem}")
        assert_no_exception(page)
    finally:
        page.context.close()


def test_an_example_clip_is_recognised_in_one_click_from_home(browser: object, app_server: AppServer) -> None:
    """The first example (Archery, from a group the default model never trained on) by the default model; the
    answer, label and confidence, shows at 1280×900 without scrolling."""
    import re

    from har_core.media.examples import examples

    page = open_page(browser, app_server.url)
    try:
        page.get_by_role("button", name=re.compile("Recognise")).first.click()
        verdict = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted action")
        verdict.wait_for(timeout=180000)
        assert "/Predict" in page.url
        wait_idle(page, timeout_ms=180000)
        assert_no_exception(page)
        basis = re.compile(r"confidence: (the mean of \d+ sliding window|one window over the whole video)")
        for shown in (verdict, page.get_by_text(basis)):
            box = shown.bounding_box()
            assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 900, box
        assert verdict.locator('[data-testid="stMetricValue"]').inner_text().strip() == examples()[0].label == "Archery"
        screenshot(page, "home-example-recognised")
    finally:
        page.context.close()
