"""Four visitors predicting at once on one running server: each uploads its own synthetic video (labels
differ), all four runs are in flight together, and every page shows its own label, file and frame count."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from e2e.conftest import AppServer, assert_no_exception, ready_to_predict, screenshot, wait_idle
from synth import make_video

pytestmark = pytest.mark.e2e
# (label, frames): frame counts differ so each page's result is recognisably its own
SESSIONS = [("Left", 300), ("Right", 320), ("Up", 340), ("Left", 360)]
RUNNING = "() => !!document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"


def test_four_sessions_predict_at_once_and_each_gets_its_own_result(
        browser: object, app_server: AppServer, tmp_path: Path) -> None:
    videos = [make_video(tmp_path / f"session{i}-{label.lower()}.avi", label, n=n, seed=700 + i)
              for i, (label, n) in enumerate(SESSIONS)]
    pages = [ready_to_predict(browser, app_server.url, "synthetic", v) for v in videos]
    clicked = []
    for page in pages:
        page.get_by_role("button", name=re.compile("Recognise the action")).click(no_wait_after=True)
        clicked.append(time.perf_counter())
    in_flight = 0  # the most sessions seen running at the same moment
    for _ in range(20):
        in_flight = max(in_flight, sum(bool(page.evaluate(RUNNING)) for page in pages))
        time.sleep(0.1)
    done = []
    for page in pages:
        page.get_by_text("Predicted action").wait_for(timeout=240000)
        wait_idle(page, timeout_ms=240000)
        done.append(time.perf_counter())
    print(f"in flight together: {in_flight}; seconds from first click to each result: "
          f"{[round(t - clicked[0], 1) for t in done]}")
    assert in_flight >= 2, "the sessions did not overlap: this would not test concurrency"
    for page, video, (label, n) in zip(pages, videos, SESSIONS):
        assert_no_exception(page)
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Predicted action")
        assert metric.locator('[data-testid="stMetricValue"]').inner_text().strip() == label
        assert page.get_by_text(f"{video.name}: {n} frames").count() == 1
        others = [v.name for v in videos if v != video]
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert not any(o in body for o in others), "another session's result leaked into this page"
    screenshot(pages[2], "load-session-up")
    for page in pages:
        page.context.close()
    assert app_server.proc.poll() is None  # the server is still up
