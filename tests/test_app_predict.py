"""Predict page in AppTest: upload, link (local HTTP server) and dataset inputs; every bad input is one
st.error line and the page keeps working."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from synth import frames_for, write_h264
from test_ucf50 import http_root  # noqa: F401  (fixture re-used)

from har_core.media.video import probe, video_codec

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "3_Predict.py")


@pytest.fixture(scope="module")
def shared_weights(synth_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One weights folder for the module, so the process-wide registry loads the model once."""
    d = tmp_path_factory.mktemp("predict") / "weights"
    shutil.copytree(synth_bundle, d / "synth_lrcn")
    return d


@pytest.fixture
def weights(shared_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = shared_weights
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(d))
    monkeypatch.setenv("HAR_CACHE_DIR", str(tmp_path / "cache"))
    return d


def run_page(timeout: float = 180, source: str | None = None) -> AppTest:
    """The page as it first opens (an example clip chosen), or with `source` chosen."""
    at = AppTest.from_file(PAGE, default_timeout=timeout).run()
    if source is not None:
        at.radio(key="predict_source").set_value(source).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def recognise(at: AppTest) -> AppTest:
    button = next(b for b in at.button if b.label == "Recognise the action")
    button.click().run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def assert_result(at: AppTest, label: str) -> Path:
    """The annotated H.264 video, the label, the top-k and timeline charts, and a download button."""
    assert not errors(at), errors(at)
    assert {m.label: m.value for m in at.metric}["Predicted action"] == label
    result = at.session_state["predict_result"]
    out = result["ann"].out_path
    assert out.is_file() and video_codec(out) == "h264"
    assert len(at.get("video")) == 1
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(charts) == 2
    assert "Top classes" in charts[0] and "Class probabilities over the video" in charts[1]
    timeline = json.loads(charts[1])["data"]
    assert sorted(t["name"] for t in timeline) == ["Left", "Right", "Up"]
    assert len(timeline[0]["x"]) == len(result["ann"].timeline) > 0
    assert [b.label for b in at.get("download_button")] == ["Download the annotated video"]
    # each figure says what it averages: the verdict the full windows (these clips are shorter than one: that
    # one window), the video each moment's last few
    from har_core.models.report import video_basis

    windows = video_basis(result["ann"].full_windows, result["sampler"].window_seconds)
    assert any(windows in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert any(c.value.startswith("Drawn on the video: each moment's label and confidence, the mean of the last")
               for c in at.caption)
    return out


def test_no_model_is_a_clear_empty_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(tmp_path / "none"))
    at = run_page()
    assert "No trained models yet" in at.info[0].value
    assert not at.radio and [u.key for u in at.file_uploader] == ["import_file"]  # adding a model is offered


def test_a_cleared_model_menu_asks_for_a_model(weights: Path) -> None:
    """The menu has no × (required), and a cleared value (the browser's check bypassed) is an empty state,
    never `KeyError: None`; choosing again brings the page back."""
    at = run_page()
    menu = at.selectbox(key="predict_model")
    assert menu.proto.required and menu.value == "synth_lrcn"
    at.radio(key="predict_source").set_value("Upload").run()  # a rerun: the menu keeps its choice
    at.selectbox(key="predict_model").set_value(None).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert [i.value for i in at.info] == ["**Choose a model** in the menu above to go on."]
    assert not at.radio  # nothing below asks for a video until a model is chosen
    at.selectbox(key="predict_model").set_value("synth_lrcn").run()
    assert not at.exception and not at.info and at.radio(key="predict_source").value == "Upload"


def test_menu_starts_at_the_best_k_fold_mean(synth_bundle: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A lucky test split does not outrank a better mean over folds; a bundle with no measurement ranks last."""
    metrics = {"lucky": {"test": {"accuracy": 0.95, "n": 40}, "crossval": {"mean": 0.70, "std": 0.2, "k": 5}},
               "steady": {"test": {"accuracy": 0.80, "n": 40}, "crossval": {"mean": 0.78, "std": 0.03, "k": 5}},
               "unmeasured": {}}
    for name, measured in metrics.items():
        shutil.copytree(synth_bundle, tmp_path / name)
        meta_file = tmp_path / name / "model.json"
        meta_file.write_text(json.dumps({**json.loads(meta_file.read_text()), "metrics": measured}))
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(tmp_path))
    at = run_page()
    menu = at.selectbox(key="predict_model")
    assert menu.value == "steady" and [o.split(" — ")[0] for o in menu.options] == ["steady", "lucky", "unmeasured"]
    measured = next(c.value for c in at.caption if c.value.startswith("Classes:"))
    assert "Measured: 80.0% test accuracy on 40 clips" in measured
    assert "Measured: 78.0% ± 3.0 k-fold accuracy over 5 folds" in measured


def test_upload_is_annotated_and_labelled(weights: Path, right_video: Path) -> None:
    at = run_page(source="Upload")
    protocol = json.loads((weights / "synth_lrcn" / "model.json").read_text())["metrics"]["test"]["protocol"]
    assert any("test accuracy on" in c.value and protocol in c.value for c in at.caption)
    at.file_uploader(key="predict_upload").set_value(("my holiday clip.avi", right_video.read_bytes(), "video/x-msvideo")).run()
    assert not errors(at)
    out = assert_result(recognise(at), "Right")
    assert probe(out).frames == probe(right_video).frames
    # the user's file name was never used as a path
    assert not list(Path(at.session_state["predict_saved_upload"][1]).parent.glob("*holiday*"))


def test_dataset_clip(weights: Path, synth_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(synth_data))
    at = run_page()
    at.radio[0].set_value("Dataset clip").run()
    at.selectbox(key="predict_class").set_value("Up").run()
    assert_result(recognise(at), "Up")


def test_dataset_without_data(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "nothing"))
    at = run_page()
    at.radio[0].set_value("Dataset clip").run()
    assert not at.exception
    assert "No dataset to pick from" in at.info[0].value


def test_link_from_local_server(weights: Path, http_root: tuple[Path, str]) -> None:
    served, base = http_root
    write_h264(served / "up.mp4", frames_for("Up", n=60, seed=5), fps=25)
    at = run_page()
    at.radio[0].set_value("Video link").run()
    at.text_input(key="predict_url").set_value(f"{base}/up.mp4").run()
    next(b for b in at.button if b.label == "Fetch the video").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert_result(recognise(at), "Up")


@pytest.mark.parametrize("url, message", [
    ("not a link", "not a valid video link: give an http(s) URL"),
    ("ftp://example.com/v.mp4", "not a valid video link: give an http(s) URL"),
])
def test_bad_links(weights: Path, url: str, message: str) -> None:
    at = run_page()
    at.radio[0].set_value("Video link").run()
    at.text_input(key="predict_url").set_value(url).run()
    next(b for b in at.button if b.label == "Fetch the video").click().run()
    assert not at.exception
    assert errors(at) == [message]
    assert not any(b.label == "Recognise the action" for b in at.button)


def test_unreachable_and_missing_links(weights: Path, http_root: tuple[Path, str]) -> None:
    _, base = http_root
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    at = run_page()
    at.radio[0].set_value("Video link").run()
    for url in (f"http://127.0.0.1:{closed}/v.mp4", f"{base}/missing.mp4"):
        at.text_input(key="predict_url").set_value(url).run()
        next(b for b in at.button if b.label == "Fetch the video").click().run()
        assert not at.exception
        assert len(errors(at)) == 1
    assert errors(at) == ["the video is unavailable"]


def test_hosted_refuses_local_links(weights: Path, http_root: tuple[Path, str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    served, base = http_root
    write_h264(served / "up.mp4", frames_for("Up", n=30), fps=25)
    monkeypatch.setenv("HAR_HOSTED", "1")
    at = run_page()
    at.radio[0].set_value("Video link").run()
    at.text_input(key="predict_url").set_value(f"{base}/up.mp4").run()
    next(b for b in at.button if b.label == "Fetch the video").click().run()
    assert not at.exception
    assert errors(at) == ["links from 127.0.0.1 are not allowed here; allowed: youtube.com, youtu.be, "
                          "m.youtube.com, www.youtube.com"]


def test_bad_uploads_each_give_one_error_and_the_page_recovers(weights: Path, right_video: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    at = run_page(source="Upload")
    up = at.file_uploader(key="predict_upload")
    cases = [
        (("notes.txt", b"just text", "text/plain"), "not a supported video type (.txt)"),
        (("fake.mp4", b"not a video at all" * 50, "video/mp4"), "not a readable video: fake.mp4"),
        (("cut.avi", right_video.read_bytes()[:600], "video/x-msvideo"), "not a readable video: cut.avi"),
        (("empty.mkv", b"", "video/x-matroska"), "the uploaded file is empty"),
    ]
    for upload, message in cases:
        up.set_value(upload).run()
        assert not at.exception, upload[0]
        assert len(errors(at)) == 1 and message in errors(at)[0], (upload[0], errors(at))
        assert not any(b.label == "Recognise the action" for b in at.button)
        up = at.file_uploader(key="predict_upload")
    up.set_value(("good.avi", right_video.read_bytes(), "video/x-msvideo")).run()
    assert not errors(at)
    assert_result(recognise(at), "Right")


def test_too_long_and_too_large(weights: Path, right_video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_MAX_VIDEO_SECONDS", "1")  # the clip is 60 frames at 25 fps = 2.4 s
    at = run_page(source="Upload")
    at.file_uploader(key="predict_upload").set_value(("long.avi", right_video.read_bytes(), "video/x-msvideo")).run()
    assert not at.exception
    assert errors(at) == ["the video is 2 s long; at most 1 s is allowed"]
    assert not any(b.label == "Recognise the action" for b in at.button)

    monkeypatch.setenv("HAR_MAX_VIDEO_SECONDS", "600")
    monkeypatch.setenv("HAR_MAX_UPLOAD_MB", "0.001")
    at = run_page(source="Upload")
    at.file_uploader(key="predict_upload").set_value(("big.avi", right_video.read_bytes(), "video/x-msvideo")).run()
    assert not at.exception
    assert len(errors(at)) == 1 and "larger than" in errors(at)[0]


def test_a_video_of_no_known_activity_says_so_beside_the_best_guess(right_video: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default model on a moving square, which is none of its activities."""
    from har_core.config import PROJECT_DIR

    shutil.copytree(PROJECT_DIR / "weights" / "imagenet_mean", tmp_path / "w" / "imagenet_mean")
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(tmp_path / "w"))
    at = run_page(source="Upload")
    at.file_uploader(key="predict_upload").set_value(("square.avi", right_video.read_bytes(), "video/x-msvideo")).run()
    at = recognise(at)
    assert not errors(at), errors(at)
    assert {m.label: m.value for m in at.metric}["Predicted action"] == "no known activity"
    pred = at.session_state["predict_result"]["ann"].prediction
    assert not pred.known and pred.label in pred.top_k[0]
    assert any(f"best guess, **{pred.label}**" in m.value for m in at.markdown)
    assert "no known activity while every class is below this line" in at.get("plotly_chart")[1].proto.spec
