"""Teaching from a few clips: the checks on examples, the held-out protocol, and (on real gestures) the
command line's `teach` and its few-clip `train`, a still take answered 'no known activity'."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from synth import write_avi

from har_core.datasets.dataset import Clip
from har_core.errors import HarError
from har_core.learning.teach import Limits, check_examples, protocol_for

LIMITS = Limits(max_activities=3, max_examples=6, max_clip_seconds=2.0)


def _clips(root: Path, label: str, n: int, frames: int = 20, group: str | None = None) -> list[Path]:
    (root / label).mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        name = f"v_{label}_{group}_c{i + 1:02d}.avi" if group else f"take{i + 1}.avi"
        rng = np.random.default_rng(i)
        out.append(write_avi(root / label / name, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * frames))
    return out


@pytest.mark.parametrize("make, message", [
    (lambda r: {"A": _clips(r, "A", 2)}, "name at least two activities"),
    (lambda r: {"A": _clips(r, "A", 2), " ": _clips(r, "B", 2)}, "an activity has no name"),
    (lambda r: {"Wave": _clips(r, "A", 2), "wave ": _clips(r, "B", 2)}, "two activities are named 'wave'"),
    (lambda r: {"A": _clips(r, "A", 2), "B": _clips(r, "B", 1)}, "B has 1 example(s): give it at least 2"),
    (lambda r: {k: _clips(r, k, 2) for k in "ABCD"}, "4 activities: this server teaches at most 3"),
    (lambda r: {"A": _clips(r, "A", 4), "B": _clips(r, "B", 3)}, "7 examples: this server takes at most 6"),
    (lambda r: {"A": _clips(r, "A", 2), "B": _clips(r, "B", 2, frames=75)}, "take1.avi is 3 s long"),
    (lambda r: {"A": _clips(r, "A", 2), "B": [r / "missing.avi", r / "also.avi"]}, "missing.avi"),
])
def test_bad_examples_are_one_line_naming_the_problem(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(HarError) as err:
        check_examples(make(tmp_path), LIMITS)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_groups_are_held_out_when_every_activity_has_two_else_clips(tmp_path: Path) -> None:
    def clip(label: str, group: str) -> Clip:
        return Clip(tmp_path / f"{label}{group}.avi", label, group)

    two = [clip("A", "g01"), clip("A", "g02"), clip("B", "g01"), clip("B", "g02"), clip("B", "g02")]
    unit, folds = protocol_for(two)
    assert unit == "group" and folds.tolist() == [0, 1, 0, 1, 1]
    unit, folds = protocol_for(two[:2] + [clip("B", "g01"), clip("B", "g01")])  # B from one group only
    assert unit == "clip" and folds.tolist() == [0, 1, 2, 3]


def _cli(*args: str) -> tuple[int, dict | None, str]:
    proc = subprocess.run([sys.executable, "-m", "har_core", *args, "--json"], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=600)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    return proc.returncode, json.loads(last) if last.startswith("{") else None, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def one_person(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three gestures, four takes each, all by person g01 (links to the shared clips)."""
    root = tmp_path_factory.mktemp("gestures_g01")
    for label in ("Clap", "SwipeLeft", "Wave"):
        (root / label).mkdir()
        for clip in sorted((shared_data.parent / "gestures" / label).glob("*_g01_*")):
            (root / label / clip.name).symlink_to(clip)
    return root


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_teach_then_a_still_person_is_no_known_activity(one_person: Path, shared_data: Path,
                                                            tmp_path: Path) -> None:
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import classify

    rc, out, log = _cli("teach", str(one_person), "--out", str(tmp_path / "taught"), "--kind", "motion")
    assert rc == 0, log
    assert out["metrics"]["teach"]["protocol"].startswith("leave one clip out") and len(out["examples"]) == 12
    assert "accuracy" in log and "saved" in log
    bundle = load_bundle(tmp_path / "taught")
    assert bundle.meta["training"]["still_takes"] == 12 and bundle.meta["open_set"]["other_output"]
    # a person never taught, standing still: one frame of their take held for two seconds
    import cv2

    cap = cv2.VideoCapture(str(shared_data.parent / "gestures" / "Wave" / "v_Wave_g03_c01.mp4"))
    ok, frame = cap.read()
    cap.release()
    still = write_avi(tmp_path / "still.avi", [frame] * 50)
    prediction = classify(bundle, still)[0]
    assert not prediction.known and prediction.confidence < bundle.threshold
    # a body-pose model: its head beside the shipped pose models, on LiteRT whatever runtime is asked for
    assert bundle.reads_pose and sorted(p.name for p in (tmp_path / "taught").iterdir()) == ["head.npz", "model.json"]
    assert load_bundle(tmp_path / "taught", runtime="keras").predictor.runtime == "litert"


@pytest.mark.slow  # Keras builds the Lite2 backbone
def test_a_taught_scene_model_is_its_head_and_keras_builds_the_same_model(tmp_path: Path) -> None:
    from synth import make_video

    from har_core.learning.teach import teach
    from har_core.models.bundle import load_bundle
    from har_core.models.registry import ModelRegistry
    from har_core.prediction.inference import classify

    examples = {label: [make_video(tmp_path / label / f"v_{label}_g0{i}_c01.avi", label, n=30, seed=i)
                        for i in (1, 2)] for label in ("Left", "Right")}
    others = [Clip(make_video(tmp_path / f"up{i}.avi", "Up", n=30, seed=i), "Up", f"u{i}") for i in (1, 2)]
    result = teach(examples, tmp_path / "scene", others=others, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in result.bundle_dir.iterdir()) == ["head.npz", "model.json"]
    lite, keras_bundle = load_bundle(result.bundle_dir), load_bundle(result.bundle_dir, runtime="keras")
    assert (lite.predictor.runtime, keras_bundle.predictor.runtime) == ("litert", "keras")
    assert ModelRegistry(tmp_path).load("scene").classes == ["Left", "Right"]  # the app loads it by name
    clip = make_video(tmp_path / "right.avi", "Right", n=40, seed=9)
    assert np.abs(np.asarray(classify(lite, clip)[0].probs) - classify(keras_bundle, clip)[0].probs).max() < 1e-4


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_train_on_one_source_per_class_holds_out_clips_and_says_so(one_person: Path, tmp_path: Path) -> None:
    rc, out, log = _cli("train", str(one_person), "--out", str(tmp_path / "few"))
    assert rc == 0, log
    assert "held out clips, not groups: too few groups" in log
    meta = json.loads((tmp_path / "few" / "model.json").read_text())
    assert meta["architecture"] == "imagenet_segments_lite2"  # the default, pretrained
    assert meta["split"]["held_out"] == "clips" and len(meta["split"]["test_clips"]) == 3
    assert meta["metrics"]["test"]["protocol"].startswith("clip holdout (too few groups")
