"""Every page at 1280×900 in Debian Chromium, on the app's default data (UCF50 and the UCF101 classes: 19), as a
newcomer sees it: no table wider than its place, no text cut off in the Dataset page's grid of clips and facts.
(Predict's answer in view after "Recognise": test_pages_e2e.)"""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import AppServer, assert_no_exception, open_page, page_path, page_scripts, screenshot, wait_idle

pytestmark = pytest.mark.e2e
SCRIPTS = page_scripts()

# Tables wider than their box: st.dataframe scrolls inside its grid's scroller, st.table inside its wrapper.
OVERFLOWING_TABLES = """() => [...document.querySelectorAll(
    '[data-testid="stDataFrame"] .dvn-scroller, [data-testid="stTable"] > div')]
  .filter(box => box.scrollWidth > box.clientWidth + 1)
  .map(box => `${box.closest('[data-testid="stDataFrame"], [data-testid="stTable"]').dataset.testid} `
              + `${box.scrollWidth} px wide in ${box.clientWidth}`)"""

# Text that does not fit: wider than its box, or a one-line caption (a file name) broken over two lines.
CUT_TEXT = """() => {
  const cut = [];
  for (const el of document.querySelectorAll('[data-testid="stImageCaption"] p, [data-testid="stTable"] td')) {
    const lines = el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight);
    if (el.scrollWidth > el.clientWidth + 1 || (el.tagName === 'P' && lines > 1.5)) cut.push(el.innerText);
  }
  return cut;
}"""


def open_all_expanders(page: object) -> None:
    """Tables folded away have no width to measure: unfold every expander first."""
    page.evaluate("() => document.querySelectorAll('[data-testid=\"stExpander\"] details:not([open]) summary')"
                  ".forEach(s => s.click())")
    page.wait_for_timeout(1000)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_no_table_is_wider_than_the_page(browser: object, app_server: AppServer, script: Path) -> None:
    page = open_page(browser, f"{app_server.url}/{page_path(script)}")
    try:
        assert_no_exception(page)
        open_all_expanders(page)
        wait_idle(page)
        assert page.evaluate(OVERFLOWING_TABLES) == []
    finally:
        page.context.close()


@pytest.mark.realdata
def test_dataset_grid_shows_its_text_whole(browser: object, app_server: AppServer, shared_data: Path) -> None:
    page = open_page(browser, f"{app_server.url}/Dataset")
    try:
        page.locator('[data-testid="stTable"]').wait_for(timeout=60000)
        wait_idle(page)
        assert_no_exception(page)
        classes = int(page.locator('[data-testid="stMetric"]').filter(has_text="Classes")
                      .locator('[data-testid="stMetricValue"]').inner_text())
        assert page.locator('[data-testid="stImageCaption"]').count() == classes  # a clip of each class
        assert page.evaluate(CUT_TEXT) == []
        screenshot(page, "layout-dataset")
    finally:
        page.context.close()

