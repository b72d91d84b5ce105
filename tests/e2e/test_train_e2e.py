"""Train page in a real browser: a short LRCN job on the synthetic dataset; the Plotly curves gain points
while it runs, and a bundle appears in the server's weights folder."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from e2e.conftest import AppServer, assert_no_exception, holds, open_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e
EPOCHS = 3  # the job waits after each one until the test has seen its points
SLOW_MS = 480000  # the first epoch traces TensorFlow functions: minutes on a busy 2-core machine
# Markers Plotly draws for the loss and accuracy curves (two traces each, one marker per epoch).
POINTS = ".js-plotly-plot .scatterlayer .trace .points path.point"


def wait_points(page: object, n: int) -> None:
    """Wait until the curves show exactly `n` markers, counted in one moment (a separate count could catch
    Streamlit redrawing the charts and see none)."""
    page.wait_for_function(f"() => document.querySelectorAll('{POINTS}').length === {n}", timeout=SLOW_MS)


@pytest.fixture
def epoch_gates(tmp_path: Path) -> Path:
    """Where the test opens the job's gate after each epoch (tests/e2e/hooks: HAR_E2E_EPOCH_GATES)."""
    gates = tmp_path / "gates"
    gates.mkdir()
    return gates


@pytest.fixture
def train_server(tmp_path: Path, synth_data: Path, epoch_gates: Path) -> Iterator[AppServer]:
    weights = tmp_path / "weights"
    weights.mkdir()
    server = AppServer(weights, env={"HAR_DATA_DIR": str(synth_data), "HAR_HOSTED": "0",
                                     **holds(HAR_E2E_EPOCH_GATES=str(epoch_gates))})
    yield server
    server.stop()


def test_train_short_job_with_live_curves(browser: object, train_server: AppServer, epoch_gates: Path) -> None:
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

    cancel = page.get_by_role("button", name=re.compile("^Cancel"))
    for epoch in range(1, EPOCHS + 1):
        # 2 charts x 2 traces, one marker per finished epoch, shown while the job waits at its gate
        wait_points(page, 4 * epoch)
        assert cancel.count() == 1, f"the job had ended when epoch {epoch}'s points were shown"
        (epoch_gates / str(epoch)).touch()

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
