"""LiteRT at run time: predicting and teaching never start TensorFlow, LiteRT gives Keras's probabilities, and a
model LiteRT cannot run says so in one line and runs on Keras."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synth import make_video

from har_core.errors import HarError
from har_core.models.bundle import META_FILE, list_bundles, load_bundle, read_meta, save_bundle

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "weights"
SHIPPED = sorted(b.name for b in list_bundles(WEIGHTS) if b.error is None)

NO_TF = """
import json, sys, time
from pathlib import Path
import numpy as np
from har_core.learning.teach import teach
from har_core.media.video import iter_frames
from har_core.models.bundle import load_bundle
from har_core.prediction.inference import annotate, classify
from har_core.prediction.live import LiveAnnotator
clip, tmp = Path(sys.argv[1]), Path(sys.argv[2])
bundle = load_bundle(sys.argv[3])
seen = {}
pred, _ = classify(bundle, clip)
seen["classify"] = "tensorflow" in sys.modules
annotate(bundle, clip, tmp / "annotated.mp4")
seen["annotate"] = "tensorflow" in sys.modules
live = LiveAnnotator()
live.use(bundle)
for i, frame in enumerate(iter_frames(clip)):
    live.process(frame, i / 25.0)
deadline = time.monotonic() + 20
while live.stats().predictions == 0 and time.monotonic() < deadline:
    time.sleep(0.05)
live.stop()
seen["webcam stream"] = "tensorflow" in sys.modules
examples = {label: sorted((tmp / "teach" / label).glob("*.avi")) for label in ("Left", "Right")}
others = [c for c in sorted((tmp / "teach" / "Up").glob("*.avi"))]
from har_core.datasets.dataset import Clip
result = teach(examples, tmp / "taught", others=[Clip(p, "Up", p.stem) for p in others])
seen["teaching"] = "tensorflow" in sys.modules
taught = load_bundle(result.bundle_dir)
classify(taught, clip)
seen["taught model predicting"] = "tensorflow" in sys.modules
print(json.dumps({"seen": seen, "keras": "keras" in sys.modules, "runtime": bundle.predictor.runtime,
                  "taught_runtime": taught.predictor.runtime, "label": pred.label,
                  "taught_files": sorted(p.name for p in result.bundle_dir.iterdir()),
                  "stream_predictions": live.stats().predictions}))
"""


@pytest.mark.slow  # a fresh process: the point is that it never imports TensorFlow
def test_predicting_and_teaching_never_import_tensorflow(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.avi", "Right", n=60)
    for label in ("Left", "Right", "Up"):
        for i in range(2):
            make_video(tmp_path / "teach" / label / f"v_{label}_g0{i + 1}_c01.avi", label, n=30, seed=i)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HAR_RUNTIME", None)
    proc = subprocess.run([sys.executable, "-c", NO_TF, str(clip), str(tmp_path),
                           str(WEIGHTS / "imagenet_segments_lite2")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["seen"] == {k: False for k in out["seen"]} and not out["keras"], out
    assert out["runtime"] == out["taught_runtime"] == "litert" and out["stream_predictions"] > 0
    assert out["taught_files"] == ["head.npz", "model.json"]  # its encoder is the shipped one, shared


def test_shipped_bundles_run_on_litert_from_their_own_files() -> None:
    """Every shipped bundle has LiteRT files that load (no fallback), and the two ImageNet ones share one stored
    encoder file per backbone instead of a copy each."""
    assert {"imagenet_segments_lite2", "imagenet_mean", "lrcn", "convlstm"} <= set(SHIPPED)
    for name in SHIPPED:
        bundle = load_bundle(WEIGHTS / name, runtime="litert")
        assert bundle.predictor.runtime == "litert" and bundle.runtime_note is None, (name, bundle.runtime_note)
    shared = {read_meta(WEIGHTS / n)["litert"]["encoder"]["shared"]["file"]
              for n in ("imagenet_segments_lite2", "imagenet_mean")}
    assert shared == {p.name for p in (WEIGHTS / "encoders").glob("*.tflite")}
    assert not list((WEIGHTS / "imagenet_segments_lite2").glob("*.tflite"))


def _real_clips(shared_data: Path, classes: list[str], per_class: int) -> list[Path]:
    roots = [shared_data, shared_data.parent / "ucf101_extra"]
    return [p for c in classes for root in roots for p in sorted((root / c).glob("*.avi"))[:per_class]]


@pytest.mark.realdata
@pytest.mark.parametrize("name", SHIPPED)
def test_litert_gives_kerass_probabilities_on_real_clips(name: str, shared_data: Path, tmp_path: Path) -> None:
    """The same real clips through both runtimes: whole clips (classify) and every sliding window (annotate)."""
    from har_core.media.video import iter_every, sample_clip
    from har_core.prediction.inference import window_probs

    lite, keras_bundle = load_bundle(WEIGHTS / name, runtime="litert"), load_bundle(WEIGHTS / name, runtime="keras")
    assert (lite.predictor.runtime, keras_bundle.predictor.runtime) == ("litert", "keras")
    clips = _real_clips(shared_data, lite.classes, 2)
    assert len(clips) >= 8
    batch = np.stack([sample_clip(c, lite.sampler).frames for c in clips])
    assert np.abs(lite.predictor.clips(batch) - keras_bundle.predictor.clips(batch)).max() < 1e-4
    frames = np.stack([f for _, f in iter_every(clips[0], lite.sampler.window_step(25.0), lite.sampler)
                       if f is not None])
    assert np.abs(window_probs(lite, frames) - window_probs(keras_bundle, frames)).max() < 1e-4


@pytest.mark.slow  # TensorFlow tries the conversion (seconds)
def test_a_model_litert_cannot_run_says_why_in_one_line_and_runs_on_keras(tmp_path: Path) -> None:
    """MaxPooling3D over time has no LiteRT kernel (over (1, 2, 2) it is exported as per-frame pooling)."""
    from har_core.media.sampling import ClipSampler
    from har_core.quiet import keras

    inputs = keras.Input((20, 64, 64, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.MaxPooling3D((2, 4, 4))(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    meta = {"classes": ["A", "B", "C"], "architecture": "imported", "sampler": ClipSampler().as_meta()}
    saved = save_bundle(keras.Model(inputs, outputs), meta, tmp_path / "pooled")
    reason = read_meta(saved)["litert"]["error"]
    assert reason.startswith("LiteRT cannot convert") and "\n" not in reason
    bundle = load_bundle(saved, runtime="litert")
    assert bundle.predictor.runtime == "keras" and reason in bundle.runtime_note


@pytest.mark.slow  # TensorFlow converts the LRCN in a fresh process
def test_the_export_command_gives_an_old_bundle_its_litert_files(tmp_path: Path) -> None:
    old = Path(shutil.copytree(WEIGHTS / "lrcn", tmp_path / "lrcn"))
    for f in ("encoder.tflite", "head.tflite"):
        (old / f).unlink()
    meta = json.loads((old / META_FILE).read_text())
    del meta["litert"]
    (old / META_FILE).write_text(json.dumps({**meta, "format_version": 1}))
    assert load_bundle(old, runtime="litert").runtime_note.startswith("runs on Keras: this bundle has no LiteRT")
    proc = subprocess.run([sys.executable, "-m", "har_core", "export", str(old)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "encoder.tflite, head.tflite" in proc.stdout
    assert load_bundle(old, runtime="litert").predictor.runtime == "litert"
    assert read_meta(old)["format_version"] == 2


def test_reserved_folders_are_not_bundles_and_not_names(tmp_path: Path) -> None:
    from har_core.models.bundle import check_name

    for name in ("encoders", "pose"):
        (tmp_path / name).mkdir()
        with pytest.raises(HarError, match="keeps for itself"):
            check_name(name)
    assert list_bundles(tmp_path) == []
