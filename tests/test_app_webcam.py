"""Webcam page in AppTest (no stream: the empty states) and its frame path (har_core.prediction.live) on real frames.

The streaming itself (browser camera → WebRTC → callback → returned video) is covered end to end in
tests/e2e/test_webcam_e2e.py; AppTest has no WebRTC peer.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from clock import ManualClock, wait_until
from synth import frames_for

import studio.ui  # noqa: F401  (first, as in the app: it loads pylibsrtp before any test loads TensorFlow)
from har_core.config import Settings
from har_core.errors import HarError
from har_core.prediction.live import HOSTED_ICE, LiveAnnotator, ice_servers

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "4_Webcam.py")


pytestmark = pytest.mark.usefixtures("no_live_runtime")


@pytest.fixture(scope="module")
def weights(synth_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("webcam") / "weights"
    shutil.copytree(synth_bundle, d / "synth_lrcn")
    return d


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def test_no_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(tmp_path / "none"))
    at = run_page()
    assert "No trained models yet" in at.info[0].value


def test_no_stream_says_how_to_start_and_what_denied_means(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = run_page()
    message = at.info[0].value
    assert "No camera stream" in message and "allow the camera" in message and "HTTPS or localhost" in message
    assert not at.error
    assert "webcam_annotator" in at.session_state and not at.session_state["webcam_annotator"].running


def test_a_cleared_model_menu_asks_for_a_model(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No × on the menu (required); a cleared value is an empty state, never `KeyError: None`."""
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = run_page().run()  # a rerun, as streamlit-webrtc's component makes one on the first visit
    assert at.selectbox(key="webcam_model").proto.required
    at.selectbox(key="webcam_model").set_value(None).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert [i.value for i in at.info] == ["**Choose a model** in the menu above to go on."]  # no stream below


def test_bad_ice_configuration_is_reported(weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_ICE_SERVERS", "[{'urls': oops")
    at = run_page()
    assert "HAR_ICE_SERVERS is not valid JSON" in at.error[0].value
    assert "No camera stream" in at.info[0].value  # the page still works


def test_ice_servers_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAR_ICE_SERVERS", raising=False)
    monkeypatch.delenv("HAR_HOSTED", raising=False)
    assert ice_servers(Settings.from_env()) == []
    monkeypatch.setenv("HAR_HOSTED", "1")
    assert ice_servers(Settings.from_env()) == HOSTED_ICE
    turn = '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]'
    monkeypatch.setenv("HAR_ICE_SERVERS", turn)
    assert ice_servers(Settings.from_env())[0]["username"] == "u"
    monkeypatch.setenv("HAR_ICE_SERVERS", '{"urls": "stun:x"}')
    with pytest.raises(HarError, match="JSON list of objects"):
        ice_servers(Settings.from_env())


@pytest.mark.slow
def test_live_annotator_classifies_and_draws(synth_bundle: Path) -> None:
    """Frames at 25 fps through the callback's code path: predictions arrive from the worker thread, the
    label is drawn on the returned frames, and the stats count frames, predictions and fps. The frames are
    timed by a clock the test advances 1/25 s per frame, so the fps is exact however busy the machine is."""
    from har_core.models.bundle import load_bundle

    bundle = load_bundle(synth_bundle)
    clock = ManualClock()
    live = LiveAnnotator(clock=clock)
    frames = frames_for("Right", n=150, size=(160, 120), seed=3)
    untouched = live.process(frames[0].copy(), 0.0)
    assert np.array_equal(untouched, frames[0]) and live.stats().frames_in == 0  # no model yet: nothing drawn
    live.use(bundle)
    drawn: list[bool] = []

    def camera() -> np.ndarray:
        """The next frame, 1/25 s after the last; records whether a label was drawn on it."""
        clock.advance(1 / 25)
        f = frames[len(drawn) % len(frames)].copy()
        out = live.process(f.copy(), len(drawn) / 25)
        drawn.append(not np.array_equal(out[:12, :40], f[:12, :40]))
        return out

    try:
        for seconds, predictions in ((6, 1), (1, 2)):  # a window of frames, then one more second: two labels
            for _ in range(25 * seconds):
                camera()
            wait_until(lambda: live.stats().predictions >= predictions, what=f"prediction {predictions}")
        out = camera()
        stats = live.stats()
    finally:
        live.stop()
    assert not live.running
    assert stats.frames_in == len(drawn) == 25 * 7 + 1
    assert stats.predictions >= 2, stats
    assert stats.error is None
    assert stats.prediction is not None and stats.prediction.label == "Right"
    assert stats.fps == pytest.approx(25)
    assert stats.seconds_since_frame == 0.0
    assert stats.model == bundle.name
    assert not drawn[0] and drawn[-1]  # nothing drawn before the first prediction, the label after
    band = out[:10, :30].astype(int)
    assert band.mean() < 60  # the dark band of har_core.media.overlay.draw_label


def test_live_annotator_switches_models_without_leaking_threads(synth_bundle: Path) -> None:
    import threading

    from har_core.models.bundle import load_bundle

    a, b = load_bundle(synth_bundle), load_bundle(synth_bundle)
    live = LiveAnnotator()
    before = sum(t.name == "har-stream" for t in threading.enumerate())
    live.use(a)
    live.use(a)  # same model: keeps its worker
    live.use(b)  # another model: replaces it
    assert sum(t.name == "har-stream" for t in threading.enumerate()) == before + 1
    live.stop()  # joins its worker
    assert sum(t.name == "har-stream" for t in threading.enumerate()) == before


@pytest.mark.slow
def test_webrtc_after_tensorflow_does_not_crash(tmp_path: Path) -> None:
    """Regression: a server that had loaded a model (TensorFlow) died with SIGSEGV when the Webcam page
    then imported streamlit-webrtc. Pages import studio.ui first, which prevents it."""
    import os
    import subprocess
    import sys

    code = "import studio.ui; import keras; import streamlit_webrtc, aiortc; print('alive')"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0 and "alive" in run.stdout, (run.returncode, run.stderr[-1500:])
