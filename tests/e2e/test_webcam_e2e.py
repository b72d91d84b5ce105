"""Webcam end to end: Chromium's fake camera plays a y4m written from a real UCF50 clip; after START the
server classifies the frames (the page's counters rise) and the returned video carries the label overlay."""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from conftest import AppServer, assert_no_exception, launch, open_page, screenshot, write_y4m

from har_core.media.video import iter_frames

pytestmark = pytest.mark.e2e


def overlay_score(rgba: np.ndarray) -> tuple[float, int]:
    """(share of near-black pixels, count of label-coloured pixels) in a top-left patch. draw_label paints a
    black band with green (confident) or orange text there."""
    rgb = rgba[..., :3].astype(int)
    dark = float((rgb.max(axis=-1) < 40).mean())
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    green = (g > 150) & (r < 110) & (b < 110)
    orange = (r > 180) & (g > 120) & (b < 90)
    return dark, int((green | orange).sum())


@pytest.fixture(scope="module")
def camera_clip(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    clip = sorted((shared_data / "HorseRace").glob("*.avi"))[0]
    frames = list(iter_frames(clip))[:150]
    return write_y4m(tmp_path_factory.mktemp("camera") / "camera.y4m", frames), frames


@pytest.fixture(scope="module")
def camera_browser(playwright_driver: object, camera_clip: tuple[Path, list[np.ndarray]]) -> Iterator[object]:
    b = launch(playwright_driver, ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                   f"--use-file-for-fake-video-capture={camera_clip[0]}"])
    yield b
    b.close()


def metric(page: object, label: str) -> int:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    if box.count() == 0:
        return 0
    text = box.first.locator('[data-testid="stMetricValue"]').inner_text()
    m = re.search(r"\d+", text.replace(",", ""))
    return int(m.group()) if m else 0


@pytest.mark.realdata
def test_live_stream_is_classified_and_annotated(camera_browser: object, app_server: AppServer,
                                                 camera_clip: tuple[Path, list[np.ndarray]]) -> None:
    page = open_page(camera_browser, f"{app_server.url}/Webcam")
    try:
        assert_no_exception(page)
        assert "No camera stream" in page.inner_text("body")
        frame = page.frame_locator('iframe[title*="streamlit_webrtc"]')
        frame.get_by_role("button", name="START").click(timeout=60000)
        # the server receives frames and the classifier predicts (counters rise in the stats fragment)
        deadline = time.monotonic() + 150  # model load + warm-up on a busy 2-core machine
        while metric(page, "Predictions") == 0:
            if time.monotonic() > deadline:
                screenshot(page, "webcam-failed")
                pytest.fail("no predictions after START; page says:\n"
                            + page.locator('[data-testid="stMain"]').inner_text()[-1500:]
                            + "\nserver log:\n" + app_server.log()[-2000:])
            page.wait_for_timeout(1000)
        assert metric(page, "Frames") > 0
        assert_no_exception(page)
        assert page.locator('[data-testid="stMetric"]').filter(has_text="Action").count() == 1

        # the video coming back from the server shows the label band at the top-left
        iframe = page.locator('iframe[title*="streamlit_webrtc"]').element_handle().content_frame()
        iframe.wait_for_function("() => [...document.querySelectorAll('video')].some(v => v.videoWidth > 0)",
                                 timeout=60000)
        page.wait_for_timeout(1500)
        sample = iframe.evaluate(
            """() => {
                const v = [...document.querySelectorAll('video')].find(v => v.videoWidth > 0);
                const c = document.createElement('canvas');
                c.width = v.videoWidth; c.height = v.videoHeight;
                const g = c.getContext('2d');
                g.drawImage(v, 0, 0);
                const d = g.getImageData(0, 0, 60, 18).data;
                return {w: v.videoWidth, h: v.videoHeight, px: Array.from(d)};
            }""")
        assert (sample["w"], sample["h"]) == (320, 240)
        patch = np.array(sample["px"], dtype=np.uint8).reshape(18, 60, 4)
        dark, coloured = overlay_score(patch)
        source = [overlay_score(np.dstack([cv2.cvtColor(f, cv2.COLOR_BGR2RGB), np.full(f.shape[:2], 255, np.uint8)])
                                [:18, :60]) for f in camera_clip[1]]
        assert max(s[0] for s in source) < 0.3  # the clip itself has no dark band there...
        assert dark > 0.4 and coloured >= 5, (dark, coloured)  # ...the returned video does
        screenshot(page, "webcam-live")

        frame.get_by_role("button", name="STOP").click()
        page.get_by_text("No camera stream").wait_for(timeout=60000)
        assert_no_exception(page)
    finally:
        page.context.close()


def test_no_camera_keeps_a_clear_message(browser: object, app_server: AppServer) -> None:
    """A browser without a camera (headless Chromium, no fake device): getUserMedia fails (NotFoundError; a
    denied permission takes the same path, NotAllowedError), START gets no stream, the page says what to do."""
    page = open_page(browser, f"{app_server.url}/Webcam")
    try:
        page.context.clear_permissions()
        frame = page.frame_locator('iframe[title*="streamlit_webrtc"]')
        frame.get_by_role("button", name="START").click(timeout=60000)
        page.wait_for_timeout(3000)
        # the component reports the browser's refusal inside its frame...
        frame.locator("text=/denied|NotAllowed|NotFound|not found|Permission|Requested device/i").first.wait_for(
            timeout=30000)
        # ...and the page keeps explaining how to allow the camera, with no exception
        assert "No camera stream" in page.inner_text("body")
        assert "allow the camera for this site" in page.inner_text("body")
        assert_no_exception(page)
        screenshot(page, "webcam-no-camera")
    finally:
        page.context.close()
