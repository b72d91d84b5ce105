"""The Train page through Streamlit's AppTest: a short real training on synthetic data, empty states,
user errors, training turned off, an interrupted job, a broken bundle, and the speed comparison."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "2_Train.py")


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def run_until(at: AppTest, done: Callable[[AppTest], bool], timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        at.run()
        assert not at.exception, at.exception
        if done(at):
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out; captions: {texts(at, 'caption')}")


@pytest.mark.slow
def test_train_a_model_end_to_end(app_env: Path) -> None:
    at = page()
    assert sorted(at.multiselect(key="train_classes").value) == ["Left", "Right", "Up"]
    from har_core.models.architectures import DEFAULT_ARCH, TRAINABLE

    assert at.selectbox(key="train_arch").options == [f"{a}: {r.title}" for a, r in TRAINABLE.items()]
    assert at.selectbox(key="train_arch").value == DEFAULT_ARCH  # the pretrained default: no epochs to set
    assert not [n for n in at.number_input if n.key.startswith("train_epochs")]
    at.selectbox(key="train_arch").set_value("lrcn").run()
    assert at.number_input(key="patience_lrcn").value == 15  # the paper's patience for LRCN
    assert at.selectbox(key="train_size_lrcn").value == 64  # the paper's frame size
    at.number_input(key="train_epochs_lrcn").set_value(2)
    assert at.selectbox(key="train_augment").value == "none"  # the paper's, unless asked
    at.selectbox(key="train_augment").set_value("flip")
    at.text_input(key="train_name").set_value("tiny")
    at.button(key="train_start").click().run()
    assert not texts(at, "error"), texts(at, "error")
    assert any("tiny" in s for s in texts(at, "subheader"))
    other = page()  # a second visitor sees the same job
    assert any("tiny · LRCN" in s for s in texts(other, "subheader"))
    assert other.button(key="train_start").disabled
    run_until(at, lambda a: any("ended" in c for c in texts(a, "caption")))
    success = " ".join(texts(at, "success"))
    assert "Saved model **tiny** (LRCN)" in success and "2 epochs" in success
    lines = " ".join(texts(at, "markdown"))
    assert "test accuracy on 6 clips" in lines and "group holdout: test groups" in lines
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # loss, accuracy, confusion matrix
    assert (app_env / "tiny" / "model.keras").is_file()
    meta = json.loads((app_env / "tiny" / "model.json").read_text())
    assert meta["training"]["epochs_run"] == 2 and meta["architecture"] == "lrcn"
    assert meta["training"]["augment"]["name"] == "flip"
    table = at.dataframe[-1].value
    assert list(table["model"]) == ["tiny"] and table["training"][0].endswith("2 epochs (best 2)")
    test = meta["metrics"]["test"]
    assert table["accuracy"][0] == f"{test['accuracy'] * 100:.1f}% test"
    assert (f"**tiny** (LRCN, augmentation: horizontal flips): {test['accuracy'] * 100:.1f}% test accuracy on "
            f"{test['n']} clips") in " ".join(texts(at, "caption"))
    # the same name again is refused, not overwritten
    at.text_input(key="train_name").set_value("tiny")
    at.button(key="train_start").click().run()
    assert any("already exists" in e for e in texts(at, "error"))
    assert json.loads((app_env / "tiny" / "model.json").read_text())["saved_at"] == meta["saved_at"]


def test_empty_states(app_env: Path, tmp_path: Path) -> None:
    at = page()
    assert any("No training has run" in c for c in texts(at, "caption"))
    assert any("No saved models yet" in i for i in texts(at, "info"))
    at.text_area(key="train_data_dir").set_value(str(tmp_path / "nowhere")).run()
    assert any("no data folder" in e for e in texts(at, "error"))
    assert not [b for b in at.button if b.key == "train_start"]  # no start without data
    assert any("No saved models yet" in i for i in texts(at, "info"))  # the rest of the page still works


@pytest.mark.parametrize("setup, message", [
    ("one class", "at least two classes"),
    ("too few groups", "none left for training"),
    ("bad name", "not a path"),
])
def test_user_errors_are_one_line(app_env: Path, setup: str, message: str) -> None:
    at = page()
    if setup == "one class":
        at.multiselect(key="train_classes").set_value(["Left"])
    elif setup == "too few groups":
        at.radio(key="train_protocol").set_value("explicit").run()
        at.multiselect(key="train_val_groups").set_value(["g01", "g02", "g03"]).run()
        at.multiselect(key="train_test_groups").set_value(["g04"])
    else:
        at.text_input(key="train_name").set_value("../outside")
    at.button(key="train_start").click().run()
    assert any(message in e for e in texts(at, "error")), texts(at, "error")
    assert any("No training has run" in c for c in texts(at, "caption"))
    assert [p.name for p in app_env.iterdir()] == []


def test_training_turned_off_when_hosted(app_env: Path, monkeypatch: pytest.MonkeyPatch, synth_bundle: Path) -> None:
    monkeypatch.setenv("HAR_HOSTED", "1")
    shutil.copytree(synth_bundle, app_env / "synthetic")
    at = page()
    assert any("Training is turned off" in i for i in texts(at, "info"))
    assert not [b for b in at.button if b.key == "train_start"]
    assert list(at.dataframe[-1].value["model"]) == ["synthetic"]


def test_saved_models_are_listed_in_the_menus_order(app_env: Path, synth_bundle: Path) -> None:
    """registry.preference orders the table as it orders Home and the model menus: the default first, not by name."""
    for name, measured in (("a_unmeasured", {}), ("b_kfold", {"crossval": {"mean": 0.95, "std": 0.01, "k": 5}}),
                           ("c_test", {"test": {"accuracy": 0.8, "n": 9}})):
        shutil.copytree(synth_bundle, app_env / name)
        meta_file = app_env / name / "model.json"
        meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "metrics": measured}))
    at = page()
    assert list(at.dataframe[-1].value["model"]) == ["b_kfold", "c_test", "a_unmeasured"]


def test_broken_bundle_is_reported_and_others_compared(app_env: Path, synth_bundle: Path) -> None:
    shutil.copytree(synth_bundle, app_env / "good")
    broken = app_env / "broken"
    shutil.copytree(synth_bundle, broken)
    (broken / "model.json").write_text("{ truncated")
    at = page()
    assert any("'broken' is skipped" in w and "corrupt" in w for w in texts(at, "warning"))
    assert list(at.dataframe[-1].value["model"]) == ["good"]


def test_measure_speed(app_env: Path, synth_bundle: Path) -> None:
    shutil.copytree(synth_bundle, app_env / "synthetic")
    at = page()
    column = "clips/s"
    assert at.dataframe[-1].value[column].isna().all()
    at.button(key="speed_measure").click().run()
    assert not texts(at, "error")
    speed = at.dataframe[-1].value[column][0]
    assert speed > 0
    assert any("predict_on_batch" in c for c in texts(at, "caption"))


def test_interrupted_training_is_explained(app_env: Path, synth_bundle: Path) -> None:
    shutil.copytree(synth_bundle, app_env / "kept")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    (app_env / ".jobs").mkdir()
    status = {"request": {"name": "lost", "arch": "convlstm", "data_dir": "/x"}, "state": "running",
              "pid": proc.pid, "started_at": "2026-01-02T03:04:05Z", "epoch": 4, "epochs": 30}
    (app_env / ".jobs" / "last.json").write_text(json.dumps(status))
    at = page()
    warning = " ".join(texts(at, "warning"))
    assert "The last training (lost, CONVLSTM, started at 2026-01-02T03:04:05Z) was interrupted at epoch 4 of 30" \
        in warning
    assert "No bundle was written" in warning and "existing bundles are intact: kept" in warning
    assert list(at.dataframe[-1].value["model"]) == ["kept"]
