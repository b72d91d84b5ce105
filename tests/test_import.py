"""Importing models trained with the paper's tutorial code: built here as the tutorial builds them, saved the
way tf.keras 2 saves them (the tf-keras package: Keras 2 for the same TensorFlow), imported as bundles whose
predictions equal the original model's on the tutorial's preprocessing of the same frames."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.paper_baseline import frames_extraction  # the tutorial's, as it is written
from har_core.errors import HarError

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


def save_as(model, fmt: str, folder: Path) -> Path:
    """Save a tf.keras 2 model the ways its users hold it: .h5, .keras, a SavedModel folder, or that folder
    zipped (how one uploads a folder)."""
    import shutil

    if fmt in (".h5", ".keras"):
        model.save(folder / f"tutorial_model{fmt}")
        return folder / f"tutorial_model{fmt}"
    model.save(folder / "tutorial_model")  # a folder: tf.keras 2 writes a SavedModel
    if fmt == "savedmodel":
        return folder / "tutorial_model"
    return Path(shutil.make_archive(str(folder / "tutorial_model"), "zip", folder, "tutorial_model"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    """Three synthetic AVIs of different lengths (61 frames: the tutorial's window is 3; 45: 2; 137: 6)."""
    from synth import make_video

    root = tmp_path_factory.mktemp("import_videos")
    return [make_video(root / f"{label}.avi", label, n=n, seed=7) for label, n in zip(CLASSES, (61, 45, 137))]


def assert_same_as_the_authors_code(original, bundle, videos: list[Path]) -> None:
    """On LiteRT (what predicts by default) and on Keras alike."""
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import classify

    keras_bundle = load_bundle(bundle.path, runtime="keras")
    assert (bundle.predictor.runtime, keras_bundle.predictor.runtime) == ("litert", "keras")
    for video in videos:
        theirs = original.predict(np.asarray(frames_extraction(video))[None], verbose=0)[0]
        for b in (bundle, keras_bundle):
            ours = np.asarray(classify(b, video)[0].probs)
            assert np.abs(theirs - ours).max() < 1e-4 and theirs.argmax() == ours.argmax(), (video.name, b.predictor)


SLOW = pytest.mark.slow  # the everyday tier keeps the tutorial's usual file; CI runs them all


@pytest.mark.parametrize("build, fmt", [(tutorial_lrcn, ".h5"), pytest.param(tutorial_lrcn, "savedmodel", marks=SLOW),
                                        pytest.param(tutorial_convlstm, ".h5", marks=SLOW),
                                        pytest.param(tutorial_lrcn, ".keras", marks=SLOW),
                                        pytest.param(tutorial_convlstm, "zip", marks=SLOW)])
def test_imported_model_predicts_what_the_authors_code_predicts(build, fmt, videos, tmp_path):
    """The whole chain: the tutorial's own frame choice, resize, BGR and scale (its frames_extraction and
    model.predict) against the app's classify on the imported bundle, clip by clip."""
    from har_core.cli import cmd_import, parser
    from har_core.models.bundle import load_bundle

    tf_keras.utils.set_random_seed(3)
    original = build()
    source = save_as(original, fmt, tmp_path)
    out = tmp_path / "imported"
    result = cmd_import(parser().parse_args(["import", str(source), "--out", str(out), "--classes", *CLASSES]))
    bundle = load_bundle(out)
    assert bundle.classes == CLASSES and (bundle.sampler.frames, bundle.sampler.image_size) == (20, 64)
    assert (bundle.sampler.spread, bundle.sampler.resize) == ("stride", "linear")
    assert result["imported"]["preprocessing"] == "RGB -> BGR, then x * 0.00392157, inside the bundle"
    assert_same_as_the_authors_code(original, bundle, videos)
    assert json.loads((out / "model.json").read_text())["architecture"] == "imported"


@pytest.mark.realdata
def test_on_real_clips_too(shared_data, tmp_path):
    """Real UCF50 clips (XviD AVIs, as the tutorial read them): four of each class, the same probabilities."""
    from har_core.models.bundle import load_bundle
    from har_core.models.importer import import_model

    tf_keras.utils.set_random_seed(5)
    original = tutorial_lrcn(classes=4)
    classes = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]
    bundle = load_bundle(import_model(save_as(original, ".h5", tmp_path), tmp_path / "real", classes))
    assert_same_as_the_authors_code(original, bundle, [p for c in classes
                                                       for p in sorted((shared_data / c).glob("*.avi"))[::25]])


@SLOW  # an import (and its LiteRT export) more than the everyday tier needs
def test_the_apps_own_sampling_can_be_chosen(videos, tmp_path):
    from har_core.media.video import sample_clip
    from har_core.models.bundle import load_bundle
    from har_core.models.importer import import_model

    source = save_as(tutorial_lrcn(), ".h5", tmp_path)
    bundle = load_bundle(import_model(source, tmp_path / "even", CLASSES, sampling="even"))
    assert (bundle.sampler.spread, bundle.sampler.resize) == ("centred", "area")
    assert sample_clip(videos[0], bundle.sampler).indices.tolist() == [int((i + 0.5) * 61 / 20) for i in range(20)]
    with pytest.raises(HarError, match="unknown sampling 'random': choose tutorial or even"):
        import_model(source, tmp_path / "bad", CLASSES, sampling="random")


def test_a_savedmodel_is_refused_when_its_layers_cannot_be_read_safely(tmp_path):
    """A folder that is not a SavedModel, one without Keras metadata (its graph would have to run), and zips
    that are not a SavedModel or would write outside their folder: one line each, nothing written."""
    import zipfile

    from har_core.models.importer import import_model

    (tmp_path / "photos").mkdir()
    with pytest.raises(HarError, match="photos is a folder but not a SavedModel"):
        import_model(tmp_path / "photos", tmp_path / "a", CLASSES)
    bare = tmp_path / "exported"
    (bare / "variables").mkdir(parents=True)
    (bare / "saved_model.pb").write_bytes(b"\x08\x01")
    with pytest.raises(HarError, match="exported is a SavedModel without Keras metadata"):
        import_model(bare, tmp_path / "b", CLASSES)
    (bare / "keras_metadata.pb").write_bytes(b"not a protobuf")
    with pytest.raises(HarError, match="exported"):
        import_model(bare, tmp_path / "c", CLASSES)
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr("../outside/saved_model.pb", b"x")
    with pytest.raises(HarError, match="evil.zip has paths outside its folder"):
        import_model(tmp_path / "evil.zip", tmp_path / "d", CLASSES)
    with zipfile.ZipFile(tmp_path / "notes.zip", "w") as z:
        z.writestr("notes.txt", b"x")
    with pytest.raises(HarError, match="notes.zip holds no SavedModel"):
        import_model(tmp_path / "notes.zip", tmp_path / "e", CLASSES)
    assert not (tmp_path / "outside").exists() and not any((tmp_path / n).exists() for n in "abcde")


def test_import_refuses_what_it_cannot_take(tmp_path, monkeypatch):
    from har_core.models.importer import import_model

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
    with pytest.raises(HarError, match="import a .keras or .h5 file, or a SavedModel folder"):
        import_model(tmp_path / "notes.txt", tmp_path / "d", CLASSES)
    monkeypatch.setenv("HAR_MAX_IMPORT_MB", "0.1")
    with pytest.raises(HarError, match=r"at most 0.1 MB is imported \(HAR_MAX_IMPORT_MB\)"):
        import_model(source, tmp_path / "e", [*CLASSES, "Down"])
    assert not any((tmp_path / name).exists() for name in "abcde")


def test_a_lambda_layer_is_refused_not_run(tmp_path):
    from har_core.models.importer import import_model

    model = tf_keras.Sequential([tf_keras.Input((20, 64, 64, 3)), tf_keras.layers.Lambda(lambda t: t * 2.0),
                                 tf_keras.layers.TimeDistributed(tf_keras.layers.GlobalAveragePooling2D()),
                                 tf_keras.layers.LSTM(4), tf_keras.layers.Dense(3, activation="softmax")])
    source = tmp_path / "lambda.h5"
    model.save(source)
    with pytest.raises(HarError, match="layer 'Lambda', which is not a standard Keras layer"):
        import_model(source, tmp_path / "out", CLASSES)


@SLOW  # an import through the page (25 s): the everyday tier keeps the import of the tutorial's .h5 above
@pytest.mark.parametrize("hosted", ["0", "1"])
def test_the_predict_page_imports_previews_and_keeps_a_model(hosted, tmp_path, monkeypatch):
    """Upload, classes, name -> one prediction on an example clip -> kept in weights/ (or, hosted, in the
    visitor's session only) and chosen in the model menu. A wrong class list is one error; nothing is kept.
    Locally the tutorial's .h5, hosted its SavedModel folder zipped."""
    from streamlit.testing.v1 import AppTest

    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_HOSTED", hosted)
    if hosted == "0":
        source = tmp_path / "LRCN_model___Loss_0.37___Accuracy_0.918.h5"
        tutorial_lrcn().save(source)
    else:
        source = save_as(tutorial_lrcn(), "zip", tmp_path)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "3_Predict.py"),
                           default_timeout=180).run()
    at.file_uploader(key="import_file").set_value((source.name, source.read_bytes(), "application/octet-stream")).run()
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
