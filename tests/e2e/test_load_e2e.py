"""Four visitors predicting at once on one running server: each uploads its own synthetic video (labels
differ), all four runs are in flight together, and every page shows its own label, file and frame count."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from e2e.conftest import AppServer, assert_no_exception, holds, ready_to_predict, screenshot, wait_idle
from synth import make_video

pytestmark = pytest.mark.e2e
# (label, frames): frame counts differ so each page's result is recognisably its own
SESSIONS = [("Left", 300), ("Right", 320), ("Up", 340), ("Left", 360)]


@pytest.fixture
def together_server(e2e_weights: Path, e2e_env: dict[str, str]) -> Iterator[AppServer]:
    """A server whose annotate lets no session through until all four are in it (tests/e2e/hooks): the runs
    overlap however fast each one is, and a server that ran them one at a time fails them all."""
    server = AppServer(e2e_weights, env={**e2e_env, **holds(HAR_E2E_ANNOTATE_BARRIER=str(len(SESSIONS)))})
    yield server
    server.stop()


def test_four_sessions_predict_at_once_and_each_gets_its_own_result(
        browser: object, together_server: AppServer, tmp_path: Path) -> None:
    videos = [make_video(tmp_path / f"session{i}-{label.lower()}.avi", label, n=n, seed=700 + i)
              for i, (label, n) in enumerate(SESSIONS)]
    pages = [ready_to_predict(browser, together_server.url, "synthetic", v) for v in videos]
    for page in pages:
        page.get_by_role("button", name=re.compile("Recognise the action")).click(no_wait_after=True)
    for page in pages:  # a result, or the exception of a server that did not run them together
        failed = page.locator('[data-testid="stException"]')
        page.get_by_text("Predicted action").or_(failed).first.wait_for(timeout=240000)
        wait_idle(page, timeout_ms=240000)
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
    assert together_server.proc.poll() is None  # the server is still up
