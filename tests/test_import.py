"""Importing models trained with the paper's tutorial code: built here as the tutorial builds them, saved the
way tf.keras 2 saves them (the tf-keras package: Keras 2 for the same TensorFlow), imported as bundles whose
predictions equal the original model's on the tutorial's preprocessing of the same frames."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from har_core.errors import HarError
from synth import frames_for

CLASSES = ["Left", "Right", "Up"]
tf_keras = pytest.importorskip("tf_keras")


def tutorial_lrcn(frames: int = 20, size: int = 64, classes: int = 3):
    """The tutorial's LRCN, layer for layer (Sequential, TimeDistributed Conv2D/MaxPooling2D/Dropout, LSTM 32)."""
    from tf_keras.layers import LSTM, Conv2D, Dense, Dropout, Flatten, MaxPooling2D, TimeDistributed

    model = tf_keras.models.Sequential()
    model.add(TimeDistributed(Conv2D(16, (3, 3), padding="same", activation="relu"), input_shape=(frames, size, size, 3)))
    for filters, pool in ((16, 4), (32, 4), (64, 2)):
        if filters != 16:
            model.add(TimeDistributed(Conv2D(filters, (3, 3), padding="same", activation="relu")))
        model.add(TimeDistributed(MaxPooling2D((pool, pool))))
        model.add(TimeDistributed(Dropout(0.25)))
    model.add(TimeDistributed(Conv2D(64, (3, 3), padding="same", activation="relu")))
    model.add(TimeDistributed(MaxPooling2D((2, 2))))
    model.add(TimeDistributed(Flatten()))
    model.add(LSTM(32))
    model.add(Dense(classes, activation="softmax"))
    return model


def tutorial_convlstm(frames: int = 20, size: int = 64, classes: int = 3):
    """The tutorial's ConvLSTM: ConvLSTM2D 4/8/14/16, MaxPooling3D, TimeDistributed(Dropout), Dense."""
    from tf_keras.layers import ConvLSTM2D, Dense, Dropout, Flatten, MaxPooling3D, TimeDistributed

    model = tf_keras.models.Sequential()
    for i, filters in enumerate((4, 8, 14, 16)):
        extra = {"input_shape": (frames, size, size, 3)} if i == 0 else {}
        model.add(ConvLSTM2D(filters=filters, kernel_size=(3, 3), activation="tanh", data_format="channels_last",
                             recurrent_dropout=0.2, return_sequences=True, **extra))
        model.add(MaxPooling3D(pool_size=(1, 2, 2), padding="same", data_format="channels_last"))
        if i < 3:
            model.add(TimeDistributed(Dropout(0.2)))
    model.add(Flatten())
    model.add(Dense(classes, activation="softmax"))
    return model


def tutorial_input(rgb_frames: np.ndarray) -> np.ndarray:
    """What the tutorial feeds its model: the frames as OpenCV reads them (BGR), divided by 255."""
    return np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in rgb_frames]).astype("float32")[None] / 255


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    """Three clips' frames as the app's sampler hands them to a model: uint8 RGB, 20 x 64 x 64."""
    return [np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (64, 64), interpolation=cv2.INTER_AREA)
                      for f in frames_for(label, n=20, seed=7)]) for label in CLASSES]


@pytest.mark.parametrize("build, suffix", [(tutorial_lrcn, ".h5"), (tutorial_convlstm, ".h5"),
                                           (tutorial_lrcn, ".keras")])
def test_imported_model_predicts_what_the_authors_code_predicts(build, suffix, clips, tmp_path):
    from har_core.bundle import load_bundle
    from har_core.cli import cmd_import, parser

    tf_keras.utils.set_random_seed(3)
    original = build()
    source = tmp_path / f"tutorial_model{suffix}"
    original.save(source)
    out = tmp_path / "imported"
    result = cmd_import(parser().parse_args(["import", str(source), "--out", str(out), "--classes", *CLASSES]))
    bundle = load_bundle(out)
    assert bundle.classes == CLASSES and (bundle.sampler.frames, bundle.sampler.image_size) == (20, 64)
    assert result["imported"]["preprocessing"] == "RGB -> BGR, then x * 0.00392157, inside the bundle"
    for clip in clips:
        theirs = original.predict(tutorial_input(clip), verbose=0)[0]
        ours = np.asarray(bundle.model.predict_on_batch(clip[None]))[0]
        assert np.abs(theirs - ours).max() < 1e-4 and theirs.argmax() == ours.argmax()
    assert json.loads((out / "model.json").read_text())["architecture"] == "imported"


def test_import_refuses_what_it_cannot_take(tmp_path, monkeypatch):
    from har_core.importer import import_model

    source = tmp_path / "m.h5"
    tutorial_lrcn(classes=4).save(source)
    with pytest.raises(HarError, match="the model has 4 outputs but 3 classes were given"):
        import_model(source, tmp_path / "a", CLASSES)
    with pytest.raises(HarError, match="at least two, each once"):
        import_model(source, tmp_path / "b", ["A", "A", "B", "C"])
    text = tmp_path / "notes.h5"
    text.write_text("not a model")
    with pytest.raises(HarError, match="notes.h5 is not a model file"):
        import_model(text, tmp_path / "c", CLASSES)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(HarError, match="import a .keras or .h5 file"):
        import_model(tmp_path / "notes.txt", tmp_path / "d", CLASSES)
    monkeypatch.setenv("HAR_MAX_IMPORT_MB", "0.1")
    with pytest.raises(HarError, match=r"at most 0.1 MB is imported \(HAR_MAX_IMPORT_MB\)"):
        import_model(source, tmp_path / "e", [*CLASSES, "Down"])
    assert not any((tmp_path / name).exists() for name in "abcde")


def test_a_lambda_layer_is_refused_not_run(tmp_path):
    from har_core.importer import import_model

    model = tf_keras.Sequential([tf_keras.Input((20, 64, 64, 3)), tf_keras.layers.Lambda(lambda t: t * 2.0),
                                 tf_keras.layers.TimeDistributed(tf_keras.layers.GlobalAveragePooling2D()),
                                 tf_keras.layers.LSTM(4), tf_keras.layers.Dense(3, activation="softmax")])
    source = tmp_path / "lambda.h5"
    model.save(source)
    with pytest.raises(HarError, match="layer 'Lambda', which is not a standard Keras layer"):
        import_model(source, tmp_path / "out", CLASSES)


@pytest.mark.parametrize("hosted", ["0", "1"])
def test_the_predict_page_imports_previews_and_keeps_a_model(hosted, tmp_path, monkeypatch):
    """Upload, classes, name -> one prediction on an example clip -> kept in weights/ (or, hosted, in the
    visitor's session only) and chosen in the model menu. A wrong class list is one error; nothing is kept."""
    from streamlit.testing.v1 import AppTest

    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_HOSTED", hosted)
    source = tmp_path / "LRCN_model___Loss_0.37___Accuracy_0.918.h5"
    tutorial_lrcn().save(source)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "3_Predict.py"),
                           default_timeout=180).run()
    at.file_uploader(key="import_file").set_value((source.name, source.read_bytes(), "application/x-hdf5")).run()
    at.text_area(key="import_classes").set_value("Left\nRight")
    at.text_input(key="import_name").set_value("tutorial_lrcn")
    at.button(key="import_go").click().run()
    assert [e.value for e in at.error] == ["the model has 3 outputs but 2 classes were given: give one class per "
                                           "output, in order"]
    at.text_area(key="import_classes").set_value("Left\nRight\nUp")
    at.button(key="import_go").click().run()
    assert not at.exception and not at.error
    assert any("On the example clip" in s.value for s in at.success)
    at.button(key="import_keep").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="predict_model").value == "tutorial_lrcn"
    assert (weights / "tutorial_lrcn" / "model.json").is_file() == (hosted == "0")
    if hosted == "1":
        assert "(this session only)" in " ".join(at.selectbox(key="predict_model").options)
