"""Body pose: BlazePose's geometry, the motion features' invariances, the pose head's refusals, and (on the real
gestures) a gesture taught from one person recognised on the next, a still person and an empty room refused."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synth import make_video, write_avi

from har_core.errors import HarError
from har_core.pose import motion
from har_core.pose.blazepose import ANCHORS, FRAME_DIM, POINTS, Region, estimator

ROOT = Path(__file__).resolve().parents[1]
BODY_COLOUR = (255, 200, 0)  # skeleton.BODY's bones, BGR
GESTURES = ("Clap", "SwipeLeft", "SwipeRight", "Throw", "Wave")


def test_the_detectors_anchors_are_mediapipes() -> None:
    """2,254 SSD anchors: 28x28x2 at stride 8, 14x14x2 at 16, 7x7x6 for the three layers of stride 32."""
    assert ANCHORS.shape == (2254, 2)
    assert np.allclose(ANCHORS[:2], [[0.5 / 28, 0.5 / 28]] * 2)
    assert np.allclose(ANCHORS[1568], [0.5 / 14, 0.5 / 14]) and np.allclose(ANCHORS[-1], [6.5 / 7, 6.5 / 7])


def test_a_region_maps_its_unit_square_onto_its_corners() -> None:
    region = Region(cx=100.0, cy=80.0, size=60.0, angle=0.3)
    corners = region.to_frame(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert np.allclose(corners, region.corners(), atol=1e-4)
    assert np.allclose(region.to_frame(np.array([[0.5, 0.5]])), [[100.0, 80.0]])


def test_nobody_in_a_frame_of_noise() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (3, 240, 320, 3), dtype=np.uint8)
    keypoints = estimator().track(noise)
    assert keypoints.shape == (3, FRAME_DIM) and (keypoints[:, -1] == 0).all() and np.isnan(keypoints[:, :-1]).all()


def _figure(t: np.ndarray, x0: float = 160, y0: float = 120, scale: float = 1.0, wave: bool = True) -> np.ndarray:
    """Keypoints (T, FRAME_DIM) of a stick figure, its right wrist waving (or still)."""
    frames = np.zeros((len(t), POINTS, 4), dtype="float32")
    frames[:, :, 3] = 1.0
    base = {11: (20, 0), 12: (-20, 0), 13: (30, 30), 14: (-30, 30), 15: (30, 60), 16: (-30, 60), 23: (12, 80),
            24: (-12, 80)}
    for j, (dx, dy) in base.items():
        frames[:, j, 0], frames[:, j, 1] = x0 + scale * dx, y0 + scale * dy
    if wave:
        frames[:, 16, 0] = x0 + scale * (-30 + 25 * np.sin(t))
        frames[:, 16, 1] = y0 + scale * (-40 + 5 * np.cos(t))
    return np.concatenate([frames.reshape(len(t), -1), np.ones((len(t), 1), "float32")], axis=1)


def test_motion_features_do_not_depend_on_where_or_how_big_the_person_is() -> None:
    t = np.linspace(0, 6, 32)
    here, there = _figure(t), _figure(t, x0=40, y0=200, scale=2.5)
    assert np.allclose(motion.features(here[None]), motion.features(there[None]), atol=1e-4)
    assert not np.allclose(motion.features(here[None]), motion.features(_figure(t * 2)[None]), atol=1e-2)


def test_the_pose_head_answers_other_for_nobody_and_for_nobody_moving() -> None:
    from har_core.models.heads import PoseHead

    t = np.linspace(0, 6, 32)
    d = motion.features(_figure(t)[None]).shape[1]
    head = PoseHead(np.zeros(d, "float32"), np.ones(d, "float32"), np.eye(d, 3, dtype="float32") * 50,
                    np.array([5.0, 0.0, 0.0], "float32"))  # would call anything moving class 0
    nobody = np.zeros((32, FRAME_DIM), "float32")
    still = _figure(t, wave=False)
    probs = head.probs(np.stack([_figure(t), nobody, still]))
    assert probs[0].argmax() == 0 and (probs[1:] == [0, 0, 1]).all()
    assert motion.summary(nobody).nobody and motion.summary(still).still and not motion.summary(_figure(t)).still


def test_an_example_with_nobody_in_it_is_refused_by_name(tmp_path: Path) -> None:
    from har_core.learning.teach import teach

    examples = {"A": [make_video(tmp_path / f"a{i}.avi", "Left", n=30, seed=i) for i in range(2)],
                "B": [make_video(tmp_path / f"b{i}.avi", "Right", n=30, seed=i) for i in range(2)]}
    with pytest.raises(HarError, match=r"a0.avi: no person was found in most of its frames") as err:
        teach(examples, tmp_path / "m", kind="motion", others=[], cache_dir=tmp_path / "cache")
    assert "\n" not in str(err.value) and not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def one_person(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five gestures by person g01 only (4 takes each), in the teach layout."""
    root = tmp_path_factory.mktemp("g01")
    for g in GESTURES:
        (root / g).mkdir()
        for p in sorted((shared_data.parent / "gestures" / g).glob("*_g01_*")):
            (root / g / p.name).symlink_to(p)
    return root


@pytest.mark.realdata
def test_gestures_taught_by_one_person_are_recognised_on_the_others(one_person: Path, shared_data: Path,
                                                                   tmp_path: Path) -> None:
    """Taught from g01's takes (the command line), scored on g03's and g04's: measured 87.5% right (35 of 40),
    and the still takes of those people (one frame held) are 'no known activity'."""
    from har_core.datasets.dataset import Clip, scan
    from har_core.learning.evaluation import predict_clips
    from har_core.learning.openset import known_score
    from har_core.media.video import iter_frames
    from har_core.models.bundle import load_bundle

    proc = subprocess.run([sys.executable, "-m", "har_core", "teach", str(one_person), "--kind", "motion", "--out",
                           str(tmp_path / "g01"), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["metrics"]["teach"]["n"] == 20
    bundle = load_bundle(tmp_path / "g01")
    assert bundle.reads_pose and bundle.predictor.runtime == "litert"
    assert sorted(p.name for p in (tmp_path / "g01").iterdir()) == ["head.npz", "model.json"]
    others = [c for c in scan(shared_data.parent / "gestures").clips if c.group != "g01"]
    read, probs = predict_clips(bundle, others)
    right = probs[:, :5].argmax(axis=1) == [bundle.classes.index(c.label) for c in read]
    assert len(read) == 40 and right.sum() >= 33  # 35 measured; ImageNet's motion head got 22 (55%)
    stills = []
    for c in others[::8]:
        first = next(iter(iter_frames(c.path)))
        stills.append(Clip(write_avi(tmp_path / f"still_{c.path.stem}.avi", [first] * 45, fps=15.0), "x", "x"))
    _, still_probs = predict_clips(bundle, stills)
    assert (known_score(still_probs, 5) < bundle.threshold).all()


@pytest.mark.realdata
def test_a_pose_model_on_a_video_and_a_stream(one_person: Path, shared_data: Path, tmp_path: Path) -> None:
    """Another person's wave: annotate with the skeleton drawn, and the webcam's frame path with its skeleton."""
    from har_core.learning.teach import teach
    from har_core.media.video import iter_frames
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import annotate, classify
    from har_core.prediction.live import LiveAnnotator

    taught = {g: sorted((one_person / g).iterdir()) for g in ("Clap", "Wave")}
    bundle = load_bundle(teach(taught, tmp_path / "cw", kind="motion").bundle_dir)
    wave = shared_data.parent / "gestures" / "Wave" / "v_Wave_g04_c01.mp4"
    pred, facts = classify(bundle, wave)
    assert pred.shown == "Wave" and facts["person_frames"] == facts["sampled_frames"] == 32
    plain, drawn = annotate(bundle, wave, tmp_path / "plain.mp4"), annotate(bundle, wave, tmp_path / "s.mp4",
                                                                           skeleton=True)
    assert drawn.prediction.shown == "Wave" and drawn.full_windows == 0 and drawn.person_windows == len(drawn.timeline)
    first = [np.asarray(next(iter(iter_frames(p)))) for p in (plain.out_path, drawn.out_path)]
    assert np.abs(first[0].astype(int) - first[1]).max() > 100  # the bones are on the frame
    live = LiveAnnotator()
    live.skeleton = True
    live.use(bundle)
    frames, drawn_frames = list(iter_frames(wave)) * 2, []
    for i, frame in enumerate(frames):  # at the camera's pace: the worker predicts a few times a second
        drawn_frames.append(live.process(frame.copy(), i / 15.0))
        time.sleep(1 / 15)
    live.stop()
    bones = [(np.abs(f.astype(int) - BODY_COLOUR).sum(axis=2) < 60).sum() for f in drawn_frames]
    assert live.stats().predictions >= 5 and max(bones) > 20  # the skeleton's body colour, on the frames
