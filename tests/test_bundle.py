"""Bundles round-trip, are validated on load, and are written atomically."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import HarError
from har_core.media.sampling import ClipSampler
from har_core.models.builders import build
from har_core.models.bundle import list_bundles, load_bundle, read_meta, recover_interrupted, save_bundle


def _meta(classes=("A", "B", "C")):
    return {"classes": list(classes), "architecture": "lrcn", "sampler": ClipSampler().as_meta(),
            "metrics": {"test": {"accuracy": 0.5, "protocol": "group holdout: test groups g01",
                                 "held_out_groups": ["g01"]}}}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One saved LRCN bundle (saving exports its LiteRT files: seconds), copied for each test that damages it."""
    model = build("lrcn", 3)
    return save_bundle(model, _meta(), tmp_path_factory.mktemp("template") / "m"), model


@pytest.fixture
def saved(template, tmp_path):
    path, model = template
    return Path(shutil.copytree(path, tmp_path / "m")), model


def test_round_trip_keeps_weights_and_metadata(saved):
    path, model = saved
    b = load_bundle(path)
    x = np.random.default_rng(0).integers(0, 255, (2, 20, 64, 64, 3), dtype=np.uint8)
    assert np.allclose(b.model.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)
    assert b.classes == ["A", "B", "C"] and b.sampler.frames == 20 and b.sampler.image_size == 64
    meta = read_meta(path)
    assert meta["sampler"]["color_order"] == "RGB" and "keras" in meta["versions"]
    assert meta["metrics"]["test"]["held_out_groups"] == ["g01"]


def test_a_saved_bundle_predicts_on_litert_as_keras_does(saved):
    """Saving exports the LRCN's per-frame CNN and its LSTM head to LiteRT; they give Keras's probabilities."""
    path, model = saved
    meta = read_meta(path)
    assert meta["litert"]["encoder"] == {"file": "encoder.tflite"} and meta["litert"]["head"]["kind"] == "tflite"
    lite, keras_bundle = load_bundle(path, runtime="litert"), load_bundle(path, runtime="keras")
    assert lite.predictor.runtime == "litert" and lite.runtime_note is None
    assert keras_bundle.predictor.runtime == "keras"
    x = np.random.default_rng(1).integers(0, 255, (3, 20, 64, 64, 3), dtype=np.uint8)
    assert np.abs(lite.predictor.clips(x) - np.asarray(model.predict_on_batch(x))).max() < 1e-5


@pytest.mark.parametrize("runtime", ["litert", "keras"])
@pytest.mark.parametrize("damage, message", [
    (lambda p: (p / "model.json").write_text("{not json"), "corrupt"),
    (lambda p: (p / "model.json").write_text("[]"), "corrupt"),
    (lambda p: [(p / f).unlink() for f in ("model.keras", "encoder.tflite")], "incomplete"),
    (lambda p: (p / "model.json").write_text(json.dumps({**_meta(), "classes": ["A", "B"]})), "inconsistent"),
    (lambda p: (p / "model.json").write_text(json.dumps({**_meta(), "sampler": {
        **ClipSampler().as_meta(), "sequence_length": 10}})), "inconsistent"),
    (lambda p: (p / "model.json").write_text(json.dumps({**_meta(), "sampler": {
        **ClipSampler().as_meta(), "color_order": "BGR"}})), "colour order"),
    (lambda p: shutil.rmtree(p), "no model bundle"),
])
def test_damaged_bundles_give_clear_errors(saved, damage, message, runtime):
    path, _ = saved
    damage(path)
    with pytest.raises(HarError, match=message) as err:
        load_bundle(path, runtime=runtime)
    assert "\n" not in str(err.value)


def test_a_damaged_keras_file_is_named_when_keras_loads_it(saved):
    path, _ = saved
    (path / "model.keras").write_bytes(b"PK\x03\x04 truncated")
    assert load_bundle(path, runtime="litert").predictor.runtime == "litert"  # LiteRT never reads it
    with pytest.raises(HarError, match="model.keras cannot be loaded"):
        load_bundle(path, runtime="keras")


@pytest.mark.parametrize("file", ["head.tflite", "encoder.tflite"])
def test_a_damaged_litert_file_falls_back_to_keras_and_says_why(saved, file):
    path, _ = saved
    (path / file).write_bytes(b"TFL3 truncated")
    bundle = load_bundle(path, runtime="litert")
    assert bundle.predictor.runtime == "keras"
    assert bundle.runtime_note.startswith("runs on Keras") and file in bundle.runtime_note


def test_listing_reports_broken_bundles_and_keeps_the_others(saved, tmp_path):
    path, model = saved
    save_bundle(model, _meta(), tmp_path / "broken")
    (tmp_path / "broken" / "model.json").write_text("oops")
    listed = {b.name: b for b in list_bundles(tmp_path)}
    assert listed["m"].error is None and "corrupt" in listed["broken"].error


def test_failed_save_leaves_the_old_bundle_intact(saved, monkeypatch):
    path, model = saved
    before = (path / "model.json").read_text()

    def crash(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", crash)
    with pytest.raises(OSError):
        save_bundle(model, _meta(("X", "Y", "Z")), path)
    assert (path / "model.json").read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["m"]


def test_crash_between_renames_is_recovered(saved):
    path, _ = saved
    old = path.parent / f".m.old-{os.getpid()}"
    os.replace(path, old)  # what a crash right after the first rename leaves
    assert recover_interrupted(path.parent) == ["m"]
    assert load_bundle(path).classes == ["A", "B", "C"]


def test_no_silent_overwrite(saved):
    path, model = saved
    with pytest.raises(HarError, match="already exists"):
        save_bundle(model, _meta(), path, overwrite=False)


def test_the_default_is_the_good_model_that_knows_most_activities() -> None:
    from har_core.models.registry import preference

    def meta(classes: int, kfold: float) -> dict:
        return {"classes": [f"c{i}" for i in range(classes)], "metrics": {"crossval": {"mean": kfold}}}

    eleven, four, twelve_bad = meta(11, 0.95), meta(4, 0.992), meta(12, 0.60)
    ranked = sorted([four, twelve_bad, eleven], key=preference, reverse=True)
    assert ranked == [eleven, four, twelve_bad]  # 95% on eleven before 99% on four; 60% never first
    assert preference(meta(4, 0.97)) > preference(meta(4, 0.95))  # same activities: the more accurate
