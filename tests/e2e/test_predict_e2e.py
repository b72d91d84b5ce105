"""Predict in a real browser: upload a real UCF50 clip, get the annotated H.264 video playing and a label."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import AppServer, assert_no_exception, choose_upload, open_page, screenshot, video_uploader, wait_idle

pytestmark = pytest.mark.e2e


@pytest.mark.realdata
def test_upload_real_clip_shows_annotated_video_and_label(browser: object, app_server: AppServer,
                                                          shared_data: Path) -> None:
    """A HorseRace clip of a group the default model was tested on (g01) is called HorseRace."""
    clip = sorted((shared_data / "HorseRace").glob("*.avi"))[0]
    page = open_page(browser, f"{app_server.url}/Predict")
    try:
        assert_no_exception(page)
        choose_upload(page)
        video_uploader(page).locator('input[type="file"]').set_input_files(str(clip))
        button = page.get_by_role("button", name="Recognise the action")
        button.wait_for(timeout=60000)
        wait_idle(page)
        button.click()
        video = page.locator('[data-testid="stVideo"]')
        video.wait_for(timeout=180000)
        wait_idle(page, timeout_ms=180000)
        assert_no_exception(page)
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        label = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted action")
        value = label.locator('[data-testid="stMetricValue"]').inner_text().strip()
        assert value == "HorseRace", value
        # the browser can decode the annotated video (H.264): it has a size and plays
        page.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=\"stVideo\"]');"
            " return v && v.readyState >= 2 && v.videoWidth === 320 && v.videoHeight === 240; }", timeout=60000)
        played = page.evaluate(
            "async () => { const v = document.querySelector('[data-testid=\"stVideo\"]'); v.muted = true;"
            " await v.play(); await new Promise(r => setTimeout(r, 700)); v.pause(); return v.currentTime; }")
        assert played > 0.2, played
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
        assert page.get_by_role("button", name="Download the annotated video").count() == 1
        screenshot(page, "predict-result")
    finally:
        page.context.close()
