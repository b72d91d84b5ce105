"""Train page in a real browser: a short LRCN job on the synthetic dataset; the Plotly curves gain points
while it runs, and a bundle appears in the server's weights folder."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from e2e.conftest import AppServer, assert_no_exception, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
EPOCHS = 15  # enough that the page sees the job mid-run even on a fast machine
SLOW_MS = 480000  # the first epoch traces TensorFlow functions: minutes on a busy 2-core machine
# Markers Plotly draws for the loss and accuracy curves (two traces each, one marker per epoch).
POINTS = ".js-plotly-plot .scatterlayer .trace .points path.point"


def points_above(page: object, n: int) -> int:
    """Wait until the curves show more than `n` markers and return how many, counted in the same moment:
    a separate count could catch Streamlit redrawing the charts and see none."""
    js = f"() => {{ const k = document.querySelectorAll('{POINTS}').length; return k > {n} ? k : false; }}"
    return int(page.wait_for_function(js, timeout=SLOW_MS).json_value())  # type: ignore[attr-defined]


@pytest.fixture
def train_server(tmp_path: Path, synth_data: Path) -> Iterator[AppServer]:
    weights = tmp_path / "weights"
    weights.mkdir()
    server = AppServer(weights, env={"HAR_DATA_DIR": str(synth_data), "HAR_HOSTED": "0"})
    yield server
    server.stop()


def test_train_short_job_with_live_curves(browser: object, train_server: AppServer) -> None:
    page = open_page(browser, train_server.url + "/Train")
    assert_no_exception(page)
    page.get_by_text("Start training").wait_for(timeout=60000)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Architecture").click()
    page.get_by_role("option", name=re.compile(r"^lrcn: ")).click()
    wait_idle(page)
    epochs = page.get_by_label("Max epochs")
    epochs.fill(str(EPOCHS))
    epochs.press("Enter")
    wait_idle(page)
    name = page.get_by_label(re.compile("^Model name"))
    name.fill("e2e-lrcn")
    name.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()

    early = points_above(page, 0)
    assert early < 4 * EPOCHS, "the job had ended before the page first showed its curves"
    later = points_above(page, early)
    # 2 charts x 2 traces, one marker per finished epoch: the curves grew while the job ran
    assert early % 4 == 0 and later % 4 == 0 and 4 <= early < later <= 4 * EPOCHS, (early, later)

    page.get_by_text(re.compile(r"Saved model e2e-lrcn")).wait_for(timeout=SLOW_MS)
    wait_idle(page)
    assert_no_exception(page)
    assert page.get_by_text(re.compile(r"test accuracy on \d+ clips — group holdout: test groups")).count() >= 1
    page.set_viewport_size({"width": 1280, "height": 2000})  # Streamlit scrolls inside its own container
    page.get_by_text("Saved models side by side").wait_for()
    screenshot(page, "train")
    bundle = train_server.weights_dir / "e2e-lrcn"
    meta = json.loads((bundle / "model.json").read_text())
    assert (bundle / "model.keras").is_file() and meta["architecture"] == "lrcn"
    assert meta["training"]["epochs_run"] == EPOCHS
    status = json.loads((train_server.weights_dir / ".jobs" / "last.json").read_text())
    assert status["state"] == "done" and status["bundle"] == str(bundle.resolve())
    page.context.close()
