"""Shared fixtures: synthetic videos and a small trained bundle (built once per test session)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from datadirs import UCF50, present  # noqa: E402
from synth import CLASSES, make_dataset, make_video  # noqa: E402

import studio.ui  # noqa: E402,F401  loads pylibsrtp before any test loads TensorFlow (see studio/ui.py)
from har_core.learning.trainconfig import TrainConfig  # noqa: E402

FOUR = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realdata: needs ../shared/data/ucf50 (required in CI)")
    config.addinivalue_line("markers", "e2e: drives a real browser against `streamlit run`")
    config.addinivalue_line("markers", "browser: needs Debian's chromium (the e2e tests)")
    config.addinivalue_line("markers", "slow: left out of the everyday tier, `pytest -m \"not slow\"`; CI runs all")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests and tests on the real clips are slow by nature: they join the `slow` tier here. A test
    that reads the real clips (the `shared_data` fixture) and lacks the `realdata` marker stops the run: it
    would otherwise slip into the everyday tier."""
    unmarked = [item.nodeid for item in items
                if "shared_data" in getattr(item, "fixturenames", ()) and "realdata" not in item.keywords]
    if unmarked:
        raise pytest.UsageError("these read the real clips: mark them @pytest.mark.realdata: " + ", ".join(unmarked))
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(pytest.mark.browser)
        if "e2e" in item.keywords or "realdata" in item.keywords:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real UCF50 clips; in CI their absence is a failure, elsewhere a skip with the reason."""
    if not present():
        if os.environ.get("CI"):
            pytest.fail(f"real data missing at {UCF50} (set HAR_DATA_DIR)")
        pytest.skip(f"real UCF50 clips not found at {UCF50} (set HAR_DATA_DIR)")
    return UCF50


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the user's cache or the shipped weights folder."""
    monkeypatch.setenv("HAR_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def app_env(tmp_path: Path, synth_data: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For a page in AppTest: a fresh weights folder (so a fresh job runner), the synthetic dataset as the
    default data, a local (not hosted) server."""
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_DATA_DIR", str(synth_data))
    for name in ("HAR_HOSTED", "HAR_ALLOW_TRAINING"):
        monkeypatch.delenv(name, raising=False)
    return weights


@pytest.fixture
def no_live_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest's runtime is a mock; streamlit-webrtc treats 'no session info' as running outside a server."""
    import streamlit_webrtc.component as component

    monkeypatch.setattr(component, "get_this_session_info", lambda: None)


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("synth") / "data")


@pytest.fixture(scope="session")
def synth_bundle(tmp_path_factory: pytest.TempPathFactory, synth_data: Path) -> Path:
    """An LRCN trained for a few epochs on the synthetic classes, saved as a bundle."""
    from har_core.learning.training import train_and_save

    out = tmp_path_factory.mktemp("bundles") / "synth_lrcn"
    cache = tmp_path_factory.getbasetemp() / "cache"
    train_and_save(synth_data, TrainConfig("lrcn", epochs=8, batch_size=4, patience=8), out, cache_dir=cache,
                   val_groups=["g03"], test_groups=["g04"])
    return out


@pytest.fixture
def right_video(tmp_path: Path) -> Path:
    return make_video(tmp_path / "right.avi", "Right", n=60, seed=7)


__all__ = ["CLASSES", "FOUR", "make_video"]
