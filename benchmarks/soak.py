"""Webcam soak: N connect / stream / disconnect cycles against one `streamlit run app.py` server, through
Debian Chromium's fake camera on loopback. Each cycle opens the Webcam page, presses START, waits for the
first prediction and closes the tab without pressing STOP (what a visitor does). The server's threads and RSS
are read after the first cycle (model loaded and warm) and after the last, each time once Streamlit has
dropped the closed tabs' sessions (see `settle`); the target is both flat within 5%.

`python -m benchmarks.soak [--cycles 50] [--video examples/v_HorseRace_g11_c01.mp4]` prints one line per
cycle and a JSON summary, written to benchmarks/soak.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from benchmarks.concurrency import rss_kib, serve

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "soak.json"
SETTLE_S = 150  # past Streamlit's server.disconnectedSessionTTL (120 s), which keeps a closed tab's session
# (and its webcam state) for a reconnect, and StreamClassifier's idle stop (30 s)


def camera_frames(video: Path, seconds: float = 12.0) -> list:
    """What Chromium's fake camera plays (it loops): the first `seconds` of `video` at 320x240."""
    from har_core.media.video import iter_frames

    return [cv2.resize(f, (320, 240)) for _, f in zip(range(int(seconds * 25)), iter_frames(video))]


def settle(browser: Any, url: str) -> None:
    """Wait out the disconnected-session TTL, then visit Home once: Streamlit's session store (a TTLCache) drops
    expired sessions only when it is next written to, which on a live server the next visitor does."""
    time.sleep(SETTLE_S)
    context = browser.new_context()
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_timeout(3000)
    context.close()
    time.sleep(5)


def snapshot(pid: int) -> dict[str, Any]:
    """RSS and thread count of the server (/proc; Python 3.11 does not give its threads OS-level names)."""
    return {"rss_mib": round(rss_kib(pid)[0] / 1024, 1), "threads": len(list(Path(f"/proc/{pid}/task").iterdir()))}


def cycle(browser: Any, url: str, timeout_s: float) -> float:
    """One visitor: open Webcam, START, wait for a prediction, close the tab. Returns seconds to the first."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(url + "/Webcam", wait_until="domcontentloaded")
        page.frame_locator('iframe[title*="streamlit_webrtc"]').get_by_role("button", name="START").click(
            timeout=120000)
        start = time.monotonic()
        while True:
            box = page.locator('[data-testid="stMetric"]').filter(has_text="Predictions")
            text = box.first.locator('[data-testid="stMetricValue"]').inner_text() if box.count() else "0"
            if int(re.sub(r"\D", "", text) or 0) > 0:
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise SystemExit("no prediction after START:\n" + page.inner_text("body")[-1500:])
            page.wait_for_timeout(500)
    finally:
        context.close()  # the tab goes away; nobody presses STOP


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--video", default=str(ROOT / "examples" / "v_HorseRace_g11_c01.mp4"))
    p.add_argument("--weights", default=str(ROOT / "weights"))
    p.add_argument("--out", default=str(RESULTS))
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e.conftest import CHROMIUM, CHROMIUM_ARGS, write_y4m
    from playwright.sync_api import sync_playwright

    scratch = Path(tempfile.mkdtemp(prefix="har-soak-"))
    camera = write_y4m(scratch / "camera.y4m", camera_frames(Path(a.video)))
    os.environ["HAR_ICE_SERVERS"] = "[]"  # loopback: no STUN server to reach
    proc, url = serve(sys.executable, ROOT, a.weights, scratch / "streamlit.log")
    out: dict[str, Any] = {"cycles": a.cycles, "video": a.video, "settle_s": SETTLE_S}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}"])
            first = []
            for i in range(a.cycles):
                seconds = cycle(browser, url, 180 if i == 0 else 60)
                first.append(round(seconds, 2))
                if i == 0:
                    settle(browser, url)
                    out["before"] = snapshot(proc.pid)
                    print(f"after cycle 1 and {SETTLE_S} s: {out['before']}", flush=True)
                print(f"cycle {i + 1}/{a.cycles}: first prediction {seconds:.1f} s after START; now "
                      f"{snapshot(proc.pid)}", flush=True)
            settle(browser, url)
            out["after"] = snapshot(proc.pid)
            browser.close()
        out["first_prediction_s"] = {"first": first[0], "median_rest": sorted(first[1:])[len(first[1:]) // 2]
                                     if len(first) > 1 else None}
        out["ratios"] = {k: round(out["after"][k] / out["before"][k], 3) for k in ("rss_mib", "threads")}
        out["flat_within_5pct"] = all(abs(r - 1) <= 0.05 for r in out["ratios"].values())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps(out))
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
