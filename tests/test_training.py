"""Training on a tiny synthetic set: progress events, cancel keeps the best weights, evaluation."""
import threading

import numpy as np
import pytest
from synth import CLASSES

from har_core.datasets.dataset import extract, scan
from har_core.datasets.splits import split_by_groups
from har_core.errors import HarError
from har_core.learning.trainconfig import TrainConfig
from har_core.learning.evaluation import score
from har_core.learning.training import ClipSequence, train

pytestmark = pytest.mark.slow  # trains models or starts TensorFlow in subprocesses


@pytest.fixture(scope="module")
def xy(synth_data, tmp_path_factory):
    index = scan(synth_data)
    split = split_by_groups(index.clips, val_groups=["g03"], test_groups=["g04"])
    ex = extract(index.clips, tmp_path_factory.mktemp("c"))
    where = dict(zip([c.path for c in ex.clips], ex.paths))

    def part(clips):
        return [where[c.path] for c in clips], [list(CLASSES).index(c.label) for c in clips]

    return part(split.train), part(split.val)


def test_cancel_stops_and_keeps_the_best_weights(xy):
    train_xy, val_xy = xy
    cancel, events = threading.Event(), []

    def hook(e):
        events.append(e)
        if e.kind == "batch" and e.epoch == 3:
            cancel.set()

    result = train(TrainConfig("lrcn", epochs=20, batch_size=4, patience=20), list(CLASSES), train_xy, val_xy,
                   progress=hook, cancel=cancel)
    assert result.cancelled and not result.stopped_early
    assert [e.epoch for e in events if e.kind == "epoch"] == [1, 2]
    assert len(result.history) == 2
    batches = [e for e in events if e.kind == "batch" and e.epoch == 1]
    assert batches[-1].batch == batches[-1].batches == len(ClipSequence(*train_xy, 4, False))
    best = min(result.history, key=lambda h: h["val_loss"])
    assert result.best_epoch == best["epoch"]
    result.model.compile(loss="sparse_categorical_crossentropy")
    val = ClipSequence(*val_xy, batch_size=16, shuffle=False)
    loss = np.atleast_1d(result.model.evaluate(val, verbose=0))[0]
    assert loss == pytest.approx(best["val_loss"], rel=1e-3)


def test_cancel_before_any_epoch_is_an_error(xy):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(HarError, match="before the first epoch"):
        train(TrainConfig("lrcn", epochs=3), list(CLASSES), *xy, cancel=cancel)


def test_trained_synthetic_bundle_scores_on_held_out_groups(synth_bundle):
    from har_core.models.bundle import read_meta

    meta = read_meta(synth_bundle)
    test = meta["metrics"]["test"]
    assert test["held_out_groups"] == ["g04"] and "g04" not in meta["split"]["train_groups"]
    assert test["accuracy"] >= 0.8, "the synthetic classes are easy; a working pipeline learns them"
    assert np.array(test["confusion"]).sum() == test["n"] == 6


def test_score_precision_recall_and_confusion():
    ev = score(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), ["a", "b", "c"])
    assert ev.accuracy == pytest.approx(0.6)
    assert ev.confusion == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert ev.per_class["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "support": 2}
    assert ev.per_class["c"]["recall"] == 0.0


def test_a_larger_input_size_is_trained_recorded_and_used_by_prediction(synth_data, tmp_path, right_video):
    from har_core.learning.training import train_and_save
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import annotate, classify

    train_and_save(synth_data, TrainConfig("lrcn", epochs=1, patience=1, image_size=96), tmp_path / "big",
                   val_groups=["g03"], test_groups=["g04"])
    bundle = load_bundle(tmp_path / "big")
    assert bundle.sampler.image_size == 96 and bundle.model.input_shape[1:] == (20, 96, 96, 3)
    prediction, _ = classify(bundle, right_video)
    assert prediction.label in CLASSES
    annotate(bundle, right_video, tmp_path / "out.mp4")
    assert (tmp_path / "out.mp4").stat().st_size > 0


@pytest.mark.parametrize("size", [16, 1024])
def test_an_input_size_out_of_range_is_refused_before_any_work(synth_data, tmp_path, size):
    from har_core.learning.training import train_and_save

    with pytest.raises(HarError, match=f"input size {size} is out of range"):
        train_and_save(synth_data, TrainConfig("lrcn", epochs=1, image_size=size), tmp_path / "x")
    assert not (tmp_path / "x").exists()
