"""The ImageNet-frame architecture end to end on synthetic clips: cached features, a head fitted in one step,
an 'other' output learnt from outlier clips, the open-set threshold, the backbone check on load, and the
three prediction paths (classify, annotate, stream) agreeing with each other."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from synth import CLASSES, make_video, write_avi

from har_core.errors import HarError
from har_core.learning.trainconfig import TrainConfig

pytestmark = pytest.mark.slow  # trains models or starts TensorFlow in subprocesses

SIZE = 96  # any size the backbone takes; small keeps the suite fast


def _noise_clip(path: Path, seed: int, n: int = 30) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)
    frames = [cv2.resize(np.roll(base, t // 6, axis=1), (96, 72), interpolation=cv2.INTER_NEAREST) for t in range(n)]
    return write_avi(path, frames)


@pytest.fixture(scope="module")
def outlier_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two classes the models never learn: coarse noise patterns drifting sideways."""
    root = tmp_path_factory.mktemp("outliers")
    for k, label in enumerate(("Noise", "Blocks")):
        (root / label).mkdir()
        for g in range(1, 4):
            _noise_clip(root / label / f"v_{label}_g{g:02d}_c01.avi", seed=10 * k + g)
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp() / "cache"


@pytest.fixture(scope="module")
def open_bundle(tmp_path_factory: pytest.TempPathFactory, synth_data: Path, outlier_data: Path, cache: Path) -> Path:
    from har_core.learning.training import train_and_save

    out = tmp_path_factory.mktemp("bundles") / "imagenet"
    train_and_save(synth_data, TrainConfig("imagenet_mean", image_size=SIZE), out, outlier_dirs=[str(outlier_data)],
                   val_groups=["g03"], test_groups=["g04"], cache_dir=cache, command="test")
    return out


def _validation_scores(bundle_dir: Path, synth_data: Path, cache: Path) -> np.ndarray:
    """The best known class's probability for each clip of the bundle's validation groups, recomputed."""
    from har_core.datasets.dataset import extract, scan
    from har_core.learning.training import predict_paths
    from har_core.models.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    val = [c for c in scan(synth_data).clips if c.group in bundle.meta["split"]["val_groups"]]
    probs = predict_paths(bundle.model, extract(val, cache, size=SIZE).paths)
    return probs[:, :len(bundle.classes)].max(axis=1)


def test_model_json_records_backbone_head_and_open_set(open_bundle: Path, synth_data: Path, cache: Path) -> None:
    from har_core.models.bundle import read_meta
    from har_core.models.pretrained import LITE0

    meta = read_meta(open_bundle)
    assert meta["architecture"] == "imagenet_mean" and meta["sampler"]["image_size"] == SIZE
    assert meta["backbone"]["name"] == LITE0 and meta["backbone"]["image_size"] == SIZE
    assert meta["training"]["head"] == "mean" and meta["training"]["c"] == 0.1
    assert meta["training"]["epochs_run"] == 1 and meta["training"]["outlier_clips"] == 6
    o = meta["open_set"]
    assert o["other_output"] and o["outlier_classes"] == ["Blocks", "Noise"] and "validation groups" in o["protocol"]
    assert o["threshold"] == pytest.approx(np.quantile(_validation_scores(open_bundle, synth_data, cache), 0.05),
                                           abs=2e-3)  # features are cached as float16 in training
    assert o["test"]["n_known"] == meta["metrics"]["test"]["n"] and "test groups g04" in o["test"]["protocol"]
    # moving squares are easy for ImageNet features: every held-out clip right
    assert meta["metrics"]["test"]["accuracy"] == 1.0


def test_features_are_encoded_once_and_reused(open_bundle: Path, synth_data: Path, cache: Path) -> None:
    from har_core.datasets.dataset import extract, scan
    from har_core.learning.features import cached_features, features_dir
    from har_core.models.encoders import frame_encoder
    from har_core.models.pretrained import LITE0

    ex = extract(scan(synth_data).clips, cache, size=SIZE)
    folder = features_dir(ex.paths[0], LITE0)
    assert all((folder / f"{p.stem}.npy").is_file() for p in ex.paths)  # training encoded every clip
    assert not list(folder.glob(".partial-*"))

    class Counting:
        frames = 0

        def encode(self, x: np.ndarray) -> np.ndarray:
            Counting.frames += len(x)
            return frame_encoder(LITE0, SIZE).encode(x)

    feats = cached_features(ex.paths, Counting(), LITE0)
    assert Counting.frames == 0 and feats.shape == (len(ex.paths), 20, 1280)
    first = folder / f"{ex.paths[0].stem}.npy"
    first.unlink()
    again = cached_features(ex.paths[:1], Counting(), LITE0)
    assert Counting.frames == 20 and np.allclose(again[0], feats[0], atol=2e-2)  # float16 on disk


def test_classify_annotate_and_stream_agree_and_say_known(open_bundle: Path, tmp_path: Path) -> None:
    from har_core.media.sampling import ClipSampler
    from har_core.media.video import sample_clip
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import StreamClassifier, annotate, classify

    bundle = load_bundle(open_bundle)
    # six validation clips set a strict threshold (0.92): this clip clears it (0.97), many others do not
    video = make_video(tmp_path / "up.avi", "Up", n=60, seed=4)
    pred, _ = classify(bundle, video)
    assert pred.label == "Up" and len(pred.probs) == 3  # the 'other' output is not a class
    assert pred.known and pred.shown == "Up"
    ann = annotate(bundle, video, tmp_path / "up.mp4")
    assert ann.prediction.label == "Up"
    assert all(w["known"] == (max(w["probs"].values()) >= bundle.threshold) for w in ann.timeline)
    # the stream encodes each kept frame once; its window gives what the whole network gives
    clf = StreamClassifier(bundle)
    for i in range(60):
        clf.push(sample_clip(video, ClipSampler(60, 96)).frames[i][:, :, ::-1].copy(), i / 25)
    streamed = clf.predict_now()
    frames = np.stack([f for _, f in clf._frames])
    whole = bundle.predictor.clips(frames[ClipSampler().window_members(len(frames) - 1)][None])[0]
    assert streamed is not None and streamed.label == "Up"
    assert np.allclose(streamed.probs, whole[:3], atol=1e-4)


def test_a_clip_under_the_threshold_is_no_known_activity(open_bundle: Path, tmp_path: Path) -> None:
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import NO_KNOWN_ACTIVITY, classify, to_prediction

    bundle = load_bundle(open_bundle)
    noise = _noise_clip(tmp_path / "noise.avi", seed=99, n=40)
    pred, _ = classify(bundle, noise)
    assert pred.label in CLASSES and not pred.known and pred.shown == NO_KNOWN_ACTIVITY
    assert pred.as_dict()["known"] is False
    assert not to_prediction(np.array([0.5, 0.3, 0.2, 0.0]), list(CLASSES), threshold=0.6).known
    assert to_prediction(np.array([0.5, 0.3, 0.2, 0.0]), list(CLASSES), threshold=0.4).known


def test_cli_classify_json_says_known(open_bundle: Path, tmp_path: Path) -> None:
    from har_core.cli import main

    import contextlib
    import io

    def classify_json(video: Path) -> dict:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["classify", str(video), "--model", str(open_bundle), "--json"]) == 0
        return json.loads(out.getvalue().strip().splitlines()[-1])

    left = classify_json(make_video(tmp_path / "left.avi", "Left", n=50, seed=5))
    assert left["label"] == "Left" and left["known"] is True
    noise = classify_json(_noise_clip(tmp_path / "noise.avi", seed=99, n=40))
    assert noise["label"] in CLASSES and noise["known"] is False


def test_a_bundle_whose_backbone_differs_from_its_record_refuses_to_load(open_bundle: Path, tmp_path: Path) -> None:
    from har_core.models.bundle import load_bundle

    for i, (field, value, message) in enumerate((("fingerprint", "0" * 16, "fingerprint differs"),
                                  ("image_size", 160, "reads 96 px"),
                                  ("name", "efficientnet-lite2", "not the model's efficientnet_lite0"),
                                  ("name", "efficientnet-b7", "not the model's"))):
        bad = tmp_path / f"bad_{i}"
        shutil.copytree(open_bundle, bad)
        meta = json.loads((bad / "model.json").read_text())
        meta["backbone"][field] = value
        (bad / "model.json").write_text(json.dumps(meta))
        with pytest.raises(HarError, match=message):
            load_bundle(bad)


def test_crossval_scores_unknown_classes_with_models_that_never_saw_them(synth_data: Path, outlier_data: Path,
                                                                        cache: Path) -> None:
    from har_core.learning.crossval import crossval

    res = crossval(synth_data, TrainConfig("imagenet_mean", image_size=SIZE), k=2, outlier_dirs=[str(outlier_data)],
                   cache_dir=cache)
    o = res.open_set
    assert o is not None and o["n_known"] == 24 and o["n_unknown"] == 6
    assert set(o["rejected_by_class"]) == {"Blocks", "Noise"} and "never saw" in o["protocol"]
    assert o["auroc"] == 1.0 and o["unknown_rejected"] == 1.0  # drifting noise is nothing like a moving square
    # the 5% quantile of the 24 known scores lies between the second and third lowest: 22 accepted
    assert o["known_accepted"] == pytest.approx(22 / 24)
    assert res.mean == 1.0


def test_outliers_need_a_pretrained_architecture_and_other_classes(synth_data: Path, cache: Path) -> None:
    from har_core.learning.training import outlier_clips, train

    with pytest.raises(HarError, match="no clip of a class outside"):
        outlier_clips([str(synth_data)], list(CLASSES), SIZE, cache)
    with pytest.raises(HarError, match="no open-set output"):
        train(TrainConfig("lrcn"), list(CLASSES), ([Path("x")], [0]), ([Path("y")], [0]), outliers=[Path("z")])
    with pytest.raises(HarError, match="use --augment none"):
        train(TrainConfig("imagenet_mean", augment="flip"), list(CLASSES), ([Path("x")], [0]), ([Path("y")], [0]))


def test_a_paper_bundle_gets_a_max_softmax_threshold(synth_bundle: Path, synth_data: Path, outlier_data: Path,
                                                     tmp_path: Path, cache: Path) -> None:
    from har_core.learning.crossval import calibrate_max_softmax
    from har_core.models.bundle import load_bundle

    bundle_dir = tmp_path / "paper"
    shutil.copytree(synth_bundle, bundle_dir)
    o = calibrate_max_softmax(bundle_dir, synth_data, [str(outlier_data)], cache)["open_set"]
    assert not o["other_output"] and "validation groups" in o["protocol"] and "never saw" in o["protocol"]
    assert o["test"]["n_known"] == 6 and o["test"]["n_unknown"] == 6
    assert set(o["test"]["rejected_by_class"]) == {"Blocks", "Noise"}
    bundle = load_bundle(bundle_dir)  # still loads: no extra output was promised
    assert bundle.threshold == o["threshold"]
    # the recorded test figures are the test groups' and the outliers' best-class probabilities, recomputed here
    from sklearn.metrics import roc_auc_score

    from har_core.datasets.dataset import extract, scan
    from har_core.learning.training import outlier_clips, predict_paths

    test = [c for c in scan(synth_data).select(bundle.classes).clips if c.group in bundle.meta["split"]["test_groups"]]
    known = predict_paths(bundle.model, extract(test, cache, size=64).paths).max(axis=1)
    unknown = predict_paths(bundle.model, outlier_clips([str(outlier_data)], bundle.classes, 64, cache)[0]).max(axis=1)
    assert o["test"]["auroc"] == pytest.approx(roc_auc_score([1] * len(known) + [0] * len(unknown), [*known, *unknown]))
    assert o["test"]["unknown_rejected"] == pytest.approx((unknown < o["threshold"]).mean())


def test_a_bundle_that_learnt_other_is_not_recalibrated(open_bundle: Path, synth_data: Path, outlier_data: Path,
                                                         cache: Path) -> None:
    from har_core.learning.crossval import calibrate_max_softmax

    with pytest.raises(HarError, match="learnt 'other' in training"):
        calibrate_max_softmax(open_bundle, synth_data, [str(outlier_data)], cache)
