"""End-to-end harness: `streamlit run app.py` on loopback, driven by Debian Chromium through Playwright.

Screenshots go to artifacts/screenshots/ (ignored by git) for a reviewer to look at.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from datadirs import UCF50, UCF101_EXTRA, present

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("HAR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


def holds(**variables: str) -> dict[str, str]:
    """A server environment that loads tests/e2e/hooks/sitecustomize.py with these holds on (listed there)."""
    path = [str(Path(__file__).parent / "hooks"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(path), **variables}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """A `streamlit run app.py` process with its own weights folder and environment."""

    def __init__(self, weights_dir: Path, env: dict[str, str] | None = None, log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.weights_dir = weights_dir
        self.log_path = log or weights_dir.parent / f"streamlit-{self.port}.log"
        full_env = {**os.environ, "HAR_WEIGHTS_DIR": str(weights_dir), "TF_CPP_MIN_LOG_LEVEL": "3",
                    **(env or {})}
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"streamlit did not start in {timeout} s: {self.log()}")

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()[-4000:]

    def stop(self, sig: int = 15) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def e2e_weights(tmp_path_factory: pytest.TempPathFactory, synth_bundle: Path) -> Path:
    """A weights folder for the server: the shipped bundles when present, plus the synthetic one."""
    d = tmp_path_factory.mktemp("e2e") / "weights"
    shipped = ROOT / "weights"
    if shipped.is_dir():
        shutil.copytree(shipped, d, ignore=shutil.ignore_patterns(".*"))
    else:
        d.mkdir()
    shutil.copytree(synth_bundle, d / "synthetic")
    return d


def page_scripts() -> list[Path]:
    """Every page of the app in its menu order (app.py's st.navigation over ui.PAGES), Home first."""
    from studio.ui import PAGES

    return [ROOT / path for path, *_ in PAGES]


def page_path(script: Path) -> str:
    """The URL path Streamlit gives a page: '' for Home (the default), 'Dataset' for pages/1_Dataset.py."""
    if script.stem.endswith("Home"):
        return ""
    stem = script.stem
    head, _, rest = stem.partition("_")
    return rest if head.isdigit() and rest else stem


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The server's environment: the real data folders where the other tests find them (an empty one when
    absent: a test that needs them asks for `shared_data`, which skips, or fails in CI), its own cache, no ICE
    servers (loopback)."""
    data = [UCF50, UCF101_EXTRA] if present() else [tmp_path_factory.mktemp("e2e") / "no-data"]
    return {"HAR_DATA_DIR": os.pathsep.join(str(d) for d in data if d.is_dir()),
            "HAR_CACHE_DIR": str(tmp_path_factory.mktemp("e2e-cache")), "HAR_ICE_SERVERS": "[]"}


@pytest.fixture(scope="session")
def app_server(e2e_weights: Path, e2e_env: dict[str, str]) -> Iterator[AppServer]:
    server = AppServer(e2e_weights, env=e2e_env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium missing at {CHROMIUM}: .ci/run installs it")
        pytest.skip(f"chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def write_y4m(path: Path, frames: list, fps: int = 25) -> Path:
    """YUV4MPEG2 (what Chromium's fake capture reads, looping): a header line, then 'FRAME\\n' + I420 planes."""
    import cv2

    h, w = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for bgr in frames:
            fh.write(b"FRAME\n" + cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def launch(driver: object, extra_args: list[str] | None = None) -> object:
    """Debian Chromium with the harness's flags (plus e.g. a fake camera); never a downloaded browser."""
    return driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + (extra_args or []))


@pytest.fixture(scope="session")
def browser(playwright_driver: object) -> Iterator[object]:
    b = launch(playwright_driver)
    yield b
    b.close()


def open_page(browser: object, url: str, **context_args: object):
    """A fresh page that has finished its first Streamlit run (no spinner, app rendered)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_args)
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    try:
        wait_idle(page)
    except Exception:
        screenshot(page, "failed-" + (url.rstrip("/").rsplit("/", 1)[-1] or "home"))
        context.close()
        raise
    return page


def wait_idle(page: object, timeout_ms: int = 60000) -> None:
    """Wait until Streamlit has rendered and no script runs: stApp's data-test-script-state is
    'notRunning' twice, a moment apart (a rerun can start right after a run ends)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    for _ in range(2):
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
        page.wait_for_timeout(400)


def assert_no_exception(page: object) -> None:
    shown = page.locator('[data-testid="stException"]')
    assert shown.count() == 0, shown.first.inner_text()


def screenshot(page: object, name: str) -> Path:
    """The whole page: Streamlit scrolls inside its main block, so the viewport is grown to fit it first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height), 6000))})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def video_uploader(page: object) -> object:
    """Predict's video uploader (the page also has one for model files, in the 'Add a model' panel)."""
    return page.locator('[data-testid="stFileUploader"]').filter(has_text="Video file")


def choose_upload(page: object) -> None:
    """Predict opens on the example clips: pick "Upload" as the video's source."""
    page.locator('[data-testid="stRadio"]').get_by_text("Upload", exact=True).click()
    video_uploader(page).wait_for(timeout=30000)
    wait_idle(page)


def ready_to_predict(browser: object, url: str, model: str, video: Path, timeout_ms: int = 60000) -> object:
    """A Predict page with bundle `model` chosen and `video` uploaded, ready to recognise."""
    page = open_page(browser, url + "/Predict")
    assert_no_exception(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Model").first.click()
    page.get_by_role("option", name=re.compile(f"^{re.escape(model)} ")).click()
    wait_idle(page)
    choose_upload(page)
    video_uploader(page).locator('input[type="file"]').set_input_files(str(video))
    page.get_by_role("button", name=re.compile("Recognise the action")).wait_for(timeout=timeout_ms)
    wait_idle(page)
    return page
