"""Faults a hosted demo meets: a server killed mid-training or mid-save, corrupt bundles in weights/, and
many sessions predicting with one shared model at once."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from synth import make_video

import studio.ui  # noqa: F401  (first, as in the app: loads pylibsrtp before TensorFlow; the other order segfaults)
from har_core.errors import HarError
from har_core.learning.jobs import INTERRUPTED, TrainingJobs
from har_core.models.bundle import list_bundles, read_meta
from har_core.models.registry import ModelRegistry

pytestmark = pytest.mark.slow  # trains models or starts TensorFlow in subprocesses

ROOT = Path(__file__).resolve().parents[1]
TRAIN_PAGE = str(ROOT / "pages" / "2_Train.py")


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def child(code: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT), **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killing_the_server_mid_training_leaves_bundles_intact_and_is_explained(
        tmp_path: Path, synth_data: Path, synth_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "kept")
    before = digest(weights / "kept")
    # The server's job runner, in its own process, training a long job.
    proc = child(f"""
        import time
        from har_core.learning.jobs import TrainingJobs, TrainRequest
        from har_core.learning.trainconfig import TrainConfig
        jobs = TrainingJobs({str(weights)!r})
        jobs.start(TrainRequest(name="victim", data_dir={str(synth_data)!r},
                                config=TrainConfig("lrcn", epochs=500, patience=500),
                                val_groups=["g03"], test_groups=["g04"]))
        time.sleep(600)
    """)
    status_file = weights / ".jobs" / "last.json"
    deadline = time.time() + 400
    try:
        while time.time() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            if status_file.exists() and json.loads(status_file.read_text())["epoch"] >= 1:
                break
            time.sleep(0.5)
        else:
            raise AssertionError("training never finished an epoch")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert json.loads(status_file.read_text())["state"] == "running"  # what a dead server leaves

    listed = list_bundles(weights)  # what the restarted server sees
    assert [(b.name, b.error) for b in listed] == [("kept", None)]
    assert digest(weights / "kept") == before
    assert not (weights / "victim").exists()
    assert [p.name for p in weights.iterdir() if p.name.startswith(".") and p.name != ".jobs"] == []

    lost = TrainingJobs(weights).interrupted()
    assert lost is not None and lost.state == INTERRUPTED and lost.request.name == "victim" and lost.epoch >= 1
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_DATA_DIR", str(synth_data))
    at = AppTest.from_file(TRAIN_PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    warning = " ".join(w.value for w in at.warning)
    assert f"The last training (victim, LRCN, started at {lost.started_at}) was interrupted at epoch {lost.epoch}" \
        in warning
    assert "No bundle was written; existing bundles are intact: kept." in warning


@pytest.mark.parametrize("die_after", [1, 2])
def test_killing_the_server_mid_save_keeps_the_old_bundle(tmp_path: Path, synth_bundle: Path, die_after: int) -> None:
    """Overwriting a bundle is two renames (old aside, new in). A kill after either leaves a complete
    bundle under the name once the next process looks (list_bundles runs recover_interrupted)."""
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "m")
    before = digest(weights / "m")
    proc = child(f"""
        import os, signal
        from har_core.models import bundle
        real, calls = os.replace, []
        def replace(a, b):
            real(a, b)
            calls.append(b)
            if len(calls) == {die_after}:
                os.kill(os.getpid(), signal.SIGKILL)
        bundle.os.replace = replace
        b = bundle.load_bundle({str(weights / "m")!r})
        bundle.save_bundle(b.model, {{**b.meta, "note": "new"}}, {str(weights / "m")!r})
    """)
    proc.wait(timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.read()
    # killed after the first rename, the name is empty (the old bundle is aside); after the second, it is the new
    assert (weights / "m").exists() == (die_after == 2)
    listed = list_bundles(weights)  # the next process recovers an empty name
    assert [(b.name, b.error) for b in listed] == [("m", None)]
    meta = read_meta(weights / "m")
    if die_after == 1:
        assert digest(weights / "m") == before and "note" not in meta
    else:
        assert meta["note"] == "new"  # the new bundle was complete when it was swapped in
    assert sorted(p.name for p in weights.iterdir()) == ["m"]


def corrupt_weights(weights: Path, synth_bundle: Path) -> None:
    shutil.copytree(synth_bundle, weights / "good")
    for name in ("bad_json", "no_model", "truncated_model", "no_classes", "wrong_classes"):
        shutil.copytree(synth_bundle, weights / name)
    (weights / "bad_json" / "model.json").write_text('{"classes": ["Left", ')
    for model_file in ("model.keras", "encoder.tflite", "head.tflite"):  # Keras's file and LiteRT's
        (weights / "no_model" / model_file).unlink()
        data = (weights / "truncated_model" / model_file).read_bytes()
        (weights / "truncated_model" / model_file).write_bytes(data[: len(data) // 3])
    meta = json.loads((synth_bundle / "model.json").read_text())
    (weights / "no_classes" / "model.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "classes"}))
    (weights / "wrong_classes" / "model.json").write_text(json.dumps({**meta, "classes": ["A", "B"]}))
    (weights / "stray.txt").write_text("not a bundle")


def test_corrupt_bundles_are_reported_and_skipped(tmp_path: Path, synth_bundle: Path) -> None:
    weights = tmp_path / "weights"
    corrupt_weights(weights, synth_bundle)
    registry = ModelRegistry(weights)
    errors = {b.name: b.error for b in registry.listings()}
    assert errors["good"] is None
    assert "corrupt" in errors["bad_json"] and "incomplete" in errors["no_model"]
    assert "classes" in errors["no_classes"]
    # these two look fine on paper: the damage shows when loading, as a one-line HarError
    assert errors["truncated_model"] is None and errors["wrong_classes"] is None
    with pytest.raises(HarError, match="truncated_model: model.keras cannot be loaded"):
        registry.load("truncated_model")
    with pytest.raises(HarError, match="wrong_classes is inconsistent: 3 outputs for 2 classes"):
        registry.load("wrong_classes")
    assert registry.load("good").classes == ["Left", "Right", "Up"]


def test_the_app_reports_corrupt_bundles_and_predicts_with_the_others(
        tmp_path: Path, synth_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    corrupt_weights(weights, synth_bundle)
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = AppTest.from_file(str(ROOT / "pages" / "3_Predict.py"), default_timeout=180).run()
    assert not at.exception, at.exception
    warned = " ".join(w.value for w in at.warning)
    for name in ("bad_json", "no_model", "no_classes"):
        assert f"{name!r} is skipped" in warned
    picker = at.selectbox(key="predict_model")
    assert [o.split(" — ")[0] for o in picker.options] == ["good", "truncated_model", "wrong_classes"]
    video = make_video(tmp_path / "right.avi", "Right", n=60, seed=7)
    at.radio(key="predict_source").set_value("Upload").run()
    at.file_uploader(key="predict_upload").set_value(("clip.avi", video.read_bytes(), "video/x-msvideo")).run()
    for name, expect_error in (("truncated_model", "truncated_model: model.keras cannot be loaded"), ("good", None)):
        at.selectbox(key="predict_model").set_value(name).run()
        next(b for b in at.button if b.label == "Recognise the action").click().run()
        assert not at.exception, at.exception
        errors = [e.value for e in at.error]
        if expect_error:
            assert len(errors) == 1 and expect_error in errors[0], errors
        else:
            assert not errors, errors
            assert {m.label: m.value for m in at.metric}["Predicted action"] == "Right"


def test_concurrent_sessions_share_one_model_and_get_their_own_results(tmp_path: Path, synth_bundle: Path) -> None:
    """Eight sessions at once, each with its own video and label; every result equals what the same call
    gives alone, and the model was loaded once."""
    from har_core.prediction.inference import annotate, classify

    shutil.copytree(synth_bundle, tmp_path / "weights" / "synthetic")
    registry = ModelRegistry(tmp_path / "weights")
    labels = ["Left", "Right", "Up", "Left", "Right", "Up", "Right", "Left"]
    videos = [make_video(tmp_path / f"v{i}.avi", label, n=40 + 5 * i, seed=50 + i) for i, label in enumerate(labels)]
    alone = [classify(registry.load("synthetic"), v)[0].probs for v in videos]

    def session(i: int) -> tuple[object, list[float], object]:
        bundle = registry.load("synthetic")
        pred, _ = classify(bundle, videos[i])
        ann = annotate(bundle, videos[i], tmp_path / f"out{i}.mp4")
        return bundle, pred.probs, ann

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(session, range(8)))
    assert len({id(b) for b, _, _ in results}) == 1  # one model object for everyone
    for i, (_, probs, ann) in enumerate(results):
        assert probs == pytest.approx(alone[i], abs=1e-5)
        assert ann.frames == 40 + 5 * i and ann.out_path == tmp_path / f"out{i}.mp4"
    assert [max(zip(p, ["Left", "Right", "Up"]))[1] for _, p, _ in results] == labels
