"""Home page (app.py's default page) in AppTest: try an example in one click, models compared with their
protocol, device, dataset status, no TensorFlow import."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from synth import make_video

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def run_home(timeout: float = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [x.value for kind in (at.info, at.error, at.warning, at.success) for x in kind]
    return "\n".join(str(p) for p in parts)


def test_home_lists_models_with_accuracy_and_protocol(synth_bundle: Path, synth_data: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "synth_lrcn")
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("HAR_DATA_DIR", str(synth_data))
    at = run_home()
    meta = json.loads((synth_bundle / "model.json").read_text())
    assert at.title[0].value.endswith("HAR Studio")
    test = meta["metrics"]["test"]
    compared = at.dataframe[0].value.to_dict("records")
    assert compared == [{"model": "synth_lrcn", "activities": 3, "k-fold over groups": "not measured",
                         "test groups": f"{test['accuracy'] * 100:.1f}%",
                         "other activities rejected": "not measured"}]
    assert [e.label for e in at.expander] == ["Details: synth_lrcn"]
    assert all(f"`{c}`" in texts(at) for c in meta["classes"])
    assert "Training augmentation: none (the paper's)" in texts(at)
    table = at.table[0].value
    rows = {r["metric"]: r for r in table.to_dict("records")}
    assert rows["test"]["accuracy"] == f"{test['accuracy'] * 100:.1f}%"
    assert rows["test"]["protocol"] == test["protocol"]
    assert rows["test"]["held-out groups"] == ", ".join(test["held_out_groups"])
    assert "validation" in rows
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dataset"] == "24 clips · 3 classes"
    assert metrics["Predictions run on"].startswith(("CPU", "GPU"))


def test_home_shows_crossval_and_broken_bundles(synth_bundle: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "cv_model")
    meta = json.loads((weights / "cv_model" / "model.json").read_text())
    folds = [{"fold": 1, "test_groups": ["g03", "g01"], "n": 7}, {"fold": 2, "test_groups": ["g02"], "n": 5}]
    meta["metrics"]["crossval"] = {"mean": 0.8125, "std": 0.05, "k": 2, "protocol": "2-fold over groups",
                                   "folds": folds, "per_class": {"Left": {"recall": 0.5, "support": 4},
                                                                 "Right": {"recall": 1.0, "support": 4},
                                                                 "Up": {"recall": 0.75, "support": 4}}}
    (weights / "cv_model" / "model.json").write_text(json.dumps(meta))
    (weights / "broken").mkdir()
    (weights / "broken" / "model.json").write_text("{}")
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = run_home()
    assert at.dataframe[0].value.to_dict("records")[0]["k-fold over groups"] == "81.2% ± 5.0"
    rows = {r["metric"]: r for r in at.table[0].value.to_dict("records")}
    assert rows["crossval"]["accuracy"] == "81.2% ± 5.0"
    assert rows["crossval"]["protocol"] == "2-fold over groups"
    assert rows["crossval"]["clips"] == 12
    assert rows["crossval"]["held-out groups"] == "each of g01–g03 by one of 2 folds"
    assert "Recall per class, 2-fold over groups: Right 100%, Up 75%, Left 50%" in texts(at)
    assert any("'broken' is not usable" in e.value and "incomplete" in e.value for e in at.error)


def test_example_cards_say_where_the_k_fold_found_the_default_model_weak(synth_bundle: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """'Click one to see what it says': a clip of a class recalled under 90% in k-fold says so on its card."""
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "default")
    meta_file = weights / "default" / "model.json"
    meta = json.loads(meta_file.read_text())
    meta["classes"] = ["Archery", "CricketBowling", "CricketShot"]
    meta["metrics"]["crossval"] = {
        "mean": 0.77, "std": 0.1, "k": 5, "confusion": [[19, 1, 0], [1, 10, 9], [0, 3, 17]],
        "per_class": {"Archery": {"recall": 0.95}, "CricketBowling": {"recall": 0.5}, "CricketShot": {"recall": 0.85}}}
    meta_file.write_text(json.dumps(meta))
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = run_home()
    assert [c.value for c in at.caption if "recall in k-fold" in c.value] == [
        "50% recall in k-fold, mostly taken for CricketShot (9 of 10 misses)",  # under CricketBowling's clip
        "85% recall in k-fold, mostly taken for CricketBowling (3 of 3 misses)"]  # under CricketShot's


def test_home_empty_states(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "no-data"))
    at = run_home()
    assert any("No trained models yet" in i.value for i in at.info)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Dataset"] == "not found"
    assert "Dataset page explains how to get UCF50; the example clips above need none" in texts(at)
    links = {p.value for p in at.get("page_link")}
    assert {"Dataset", "Predict", "Webcam"} <= links


def test_home_does_not_import_tensorflow(synth_bundle: Path, tmp_path: Path) -> None:
    """Listing models reads model.json only: a fresh process rendering home never loads TF or Keras."""
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "synth_lrcn")
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({APP!r}, default_timeout=60).run(); "
            "assert not at.exception, at.exception; "
            "assert at.dataframe[0].value['model'].tolist() == ['synth_lrcn']; "
            "print('LOADED', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    env = {**os.environ, "HAR_WEIGHTS_DIR": str(weights), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "LOADED []" in run.stdout, run.stdout


def test_one_click_on_an_example_recognises_it_on_predict(synth_bundle: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Home -> "Recognise" under an example clip -> Predict with that clip chosen and its right label shown.

    The shipped examples are real clips, which the synthetic model (moving squares) has no right answer for,
    so Home is given examples of its classes; the second is clicked, so the first cannot stand in for it. The
    shipped model on a shipped example is the browser test's (test_pages_e2e)."""
    import functools

    import har_core.media.examples as shipped

    assert len(shipped.examples()) == 12 and sum(not c.known for c in shipped.examples()) == 1
    folder = tmp_path / "examples"
    clips = [make_video(folder / f"v_{label}_g09_c01.avi", label, n=60, seed=9) for label in ("Left", "Up")]
    (folder / "MANIFEST.csv").write_text("file,class,known_to_default_model\n"
                                         + "".join(f"{c.name},{c.name.split('_')[1]},True\n" for c in clips))
    monkeypatch.setattr(shipped, "examples", functools.partial(shipped.examples, folder))
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "synth_lrcn")
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    at = run_home()
    assert len(at.get("image")) == 2  # a first frame per example, with its class
    at.button(key="try_v_Up_g09_c01").click().run(timeout=120)
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert at.radio(key="predict_source").value == "Example clip"
    assert at.selectbox(key="predict_example").value == "v_Up_g09_c01.avi"
    assert [m.label for m in at.metric][:1] == ["Predicted action"]
    assert at.metric[0].value == "Up"
