"""The Teach page in AppTest: examples uploaded and picked from the dataset, thumbnails with remove buttons,
every bad input as one error with nothing saved, and a real teaching run on people's gestures whose model is
then chosen on Predict and Webcam."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "5_Teach.py")


pytestmark = pytest.mark.usefixtures("no_live_runtime")


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def upload(at: AppTest, slot: int, files: list[Path]) -> AppTest:
    """Upload `files` into the `slot`-th activity's uploader (its key changes after each upload)."""
    uploader = [u for u in at.file_uploader if u.key.startswith(f"teach_up_{slot}_")][0]
    uploader.set_value([(f.name, f.read_bytes(), "video/mp4") for f in files]).run()
    assert not at.exception, at.exception
    return at


def examples(at: AppTest, slot: int) -> list[str]:
    return [e["title"] for e in at.session_state["teach"]["activities"][slot]["examples"]]


def test_empty_page_offers_two_activities_and_no_teaching(app_env: Path) -> None:
    at = page()
    assert [t.key for t in at.text_input if t.key.startswith("teach_name_")] == ["teach_name_0", "teach_name_1"]
    assert next(b for b in at.button if b.key == "teach_go").disabled  # nothing to teach from yet
    assert any("No examples yet" in c.value for c in at.caption)


def test_uploads_and_dataset_picks_become_examples_that_can_be_removed(app_env: Path, synth_data: Path,
                                                                         tmp_path: Path) -> None:
    at = page()
    clips = sorted((synth_data / "Left").iterdir())[:3]
    upload(at, 0, clips)
    assert examples(at, 0) == [c.name for c in clips]
    assert len(at.image) == 3  # a first-frame thumbnail per example
    at.selectbox(key="teach_ds_class_1").set_value("Right").run()
    right = sorted(p.name for p in (synth_data / "Right").iterdir())
    at.multiselect(key="teach_ds_clips_1").set_value(right[:1]).run()
    at.button(key="teach_ds_add_1").click().run()
    assert examples(at, 1) == right[:1]
    at.button(key="teach_ds_all_1").click().run()  # the whole class folder, each clip once
    assert examples(at, 1) == right
    first = at.session_state["teach"]["activities"][0]["examples"][0]["path"]
    at.button(key=f"teach_rm_0_{first}").click().run()
    assert examples(at, 0) == [c.name for c in clips[1:]]
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    upload(at, 0, [bad])
    assert any("notes.txt" in e and "not a supported video type" in e for e in errors(at)), errors(at)
    assert examples(at, 0) == [c.name for c in clips[1:]]


def test_recording_without_a_camera_says_what_to_do(app_env: Path) -> None:
    at = page()
    assert not [s for s in at.selectbox if s.key == "teach_take_of"]  # no camera until asked for
    at.toggle(key="teach_camera_on").set_value(True)
    at.text_input(key="teach_name_0").set_value("Wave").run()
    assert at.selectbox(key="teach_take_of").options == ["Wave", "activity 2"]
    at.button(key="teach_record").click().run()
    assert errors(at) == ["the camera is off: press START under the video and allow the camera first"]
    assert not at.session_state["teach_recorder"].busy


@pytest.mark.parametrize("names, message", [
    (("Left", ""), "an activity has no name"),
    (("Same", "same"), "two activities are named"),
])
def test_bad_names_are_one_error_and_nothing_is_saved(app_env: Path, synth_data: Path, names: tuple[str, str],
                                                      message: str) -> None:
    at = page()
    for slot, label in enumerate(("Left", "Right")):
        upload(at, slot, sorted((synth_data / label).iterdir())[:2])
        at.text_input(key=f"teach_name_{slot}").set_value(names[slot])
    at.button(key="teach_go").click().run()
    assert len(errors(at)) == 1 and message in errors(at)[0], errors(at)
    assert list(app_env.iterdir()) == [] and "teach_result" not in at.session_state


def test_an_activity_without_enough_examples_is_named(app_env: Path, synth_data: Path) -> None:
    at = page()
    upload(at, 0, sorted((synth_data / "Left").iterdir())[:2])
    upload(at, 1, sorted((synth_data / "Right").iterdir())[:1])
    at.text_input(key="teach_name_0").set_value("Left")
    at.text_input(key="teach_name_1").set_value("Right").run()
    at.button(key="teach_go").click().run()
    assert errors(at) == ["Right has 1 example(s): give it at least 2"]
    assert list(app_env.iterdir()) == []


@pytest.mark.slow
@pytest.mark.realdata
def test_teaching_gestures_saves_a_model_chosen_on_predict_and_webcam(app_env: Path, shared_data: Path) -> None:
    gestures = shared_data.parent / "gestures"
    at = page()
    at.radio(key="teach_kind").set_value("motion").run()
    at.button(key=next(b.key for b in at.button if b.label == "Add an activity")).click().run()
    for slot, label in enumerate(("Clap", "SwipeLeft", "Wave")):
        upload(at, slot, sorted((gestures / label).glob("*_g01_*")))
        at.text_input(key=f"teach_name_{slot}").set_value(label)
    at.text_input(key="teach_model_name").set_value("my_gestures")
    at.button(key="teach_go").click().run()
    assert not errors(at), errors(at)
    result = at.session_state["teach_result"]
    meta = result["meta"]
    assert result["name"] == "my_gestures" and (app_env / "my_gestures" / "head.npz").is_file()
    assert meta["classes"] == ["Clap", "SwipeLeft", "Wave"]
    assert meta["architecture"] == "pose_motion"  # "how the body moves": body pose, gestures for anyone
    # four takes of one person per gesture: no group to hold out, so each take in turn
    assert meta["metrics"]["teach"]["protocol"].startswith("leave one clip out") and meta["metrics"]["teach"]["n"] == 12
    assert meta["metrics"]["teach"]["accuracy"] >= 0.75  # measured 1.0 (benchmarks/teach.py)
    assert {m.label: m.value for m in at.metric}["Accuracy on examples held out in turn"] == \
        f"{meta['metrics']['teach']['accuracy'] * 100:.1f}%"
    assert at.session_state["_predict_model_next"] == at.session_state["_webcam_model_next"] == "my_gestures"


@pytest.mark.slow
def test_hosted_models_stay_in_the_visit_and_are_limited(app_env: Path, synth_data: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_HOSTED", "1")
    monkeypatch.setenv("HAR_TEACH_MAX_MODELS", "1")
    at = page()
    for slot, label in enumerate(("Left", "Right")):
        upload(at, slot, sorted((synth_data / label).iterdir())[:3])
        at.text_input(key=f"teach_name_{slot}").set_value(label)
    at.text_input(key="teach_model_name").set_value("mine")
    at.button(key="teach_go").click().run()
    assert not errors(at), errors(at)
    kept = at.session_state["_har_session_models"]["mine"]
    assert (kept / "head.npz").is_file() and list(app_env.iterdir()) == []  # the visit's folder, not weights/
    assert "kept for this browser session" in " ".join(c.value for c in at.caption)
    at.text_input(key="teach_model_name").set_value("another")
    at.button(key="teach_go").click().run()
    assert errors(at) == ["this visit has taught 1 model(s), the most this server allows"]
