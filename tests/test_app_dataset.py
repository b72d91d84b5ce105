"""Dataset page in AppTest: browsing synthetic data, the empty state, and the in-app UCF50 download."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from synth import make_video
from test_ucf50 import http_root, make_rar  # noqa: F401  (fixture re-used)

from har_core.media.video import video_codec

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "1_Dataset.py")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_CACHE_DIR", str(tmp_path / "cache"))


def run_page(timeout: float = 90) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=timeout).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    return at


def test_browse_synthetic_dataset(synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(synth_data))
    at = run_page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Classes": "3", "Clips": "24", "Groups (source videos)": "12"}
    captions = [c for img in at.get("image") for c in img.captions]  # the file name after v_<Class>_
    assert len(captions) == 3 and all(re.fullmatch(r"g\d\d_c\d\d\.avi", c) for c in captions)
    # the chosen clip plays as H.264 transcoded into the cache, with its metadata beside it
    videos = at.get("video")
    assert len(videos) == 1
    previews = list((tmp_path / "cache" / "previews").glob("*.mp4"))
    assert len(previews) == 1 and video_codec(previews[0]) == "h264"
    assert at.selectbox[1].value == 0 and at.selectbox[1].options[0] == "v_Left_g01_c01.avi (g01)"
    facts = dict(at.table[0].value.values.tolist())
    assert facts["frames decoded"] == "30" and facts["size"] == "96×72"
    charts = at.get("plotly_chart")
    assert len(charts) == 1 and "Clips and groups per class" in charts[0].proto.spec

    at.selectbox[0].set_value("Up").run()
    assert not at.exception
    assert at.selectbox[1].options[0] == "v_Up_g01_c01.avi (g01)"

    seed = at.session_state["dataset_seed"]
    at.button[0].click().run()  # Shuffle
    assert at.session_state["dataset_seed"] != seed
    assert len(at.get("image")) == 3


def test_a_clip_of_each_class_however_many(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """'A random clip of each class' means each: 13 classes, 13 pictures (it once stopped at 12)."""
    classes = [f"Class{i:02d}" for i in range(13)]
    for name in classes:
        make_video(tmp_path / "data" / name / f"v_{name}_g01_c01.avi", n=12)
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "data"))
    at = run_page()
    assert [c for img in at.get("image") for c in img.captions] == ["g01_c01.avi"] * 13


def test_empty_state_explains_ucf50(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "nothing"))
    at = run_page()
    info = at.info[0].value
    assert "No dataset here yet" in info and "no data folder" in info
    text = "\n".join(m.value for m in at.markdown)
    assert "https://www.crcv.ucf.edu/data/UCF50.rar" in text
    assert "<Class>/v_<Class>_gNN_cMM.avi" in at.code[0].value
    assert [b.label for b in at.button] == ["Download UCF50"]


def test_path_field_switches_folder(synth_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "nothing"))
    at = run_page()
    at.text_area[0].set_value(str(synth_data)).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Clips"] == "24"
    make_video(tmp_path / "more" / "Archery" / "v_Archery_g01_c01.avi")  # a second folder, a UCF101 class
    at.text_area[0].set_value(f"{synth_data}\n{tmp_path / 'more'}").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Clips"] == "25"
    rows = {r["class"]: r for r in at.dataframe[-1].value.to_dict("records")}
    assert rows["Archery"]["origin"] == "UCF101" and rows["Archery"]["folder"] == str(tmp_path / "more" / "Archery")
    assert rows["Left"]["origin"] == "own" and rows["Left"]["clips"] == 8


def test_in_app_download_and_extract(http_root: tuple[Path, str], right_video: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from har_core.datasets.ucf50 import find_rar_tool

    if find_rar_tool() is None:
        pytest.skip("no unrar/7z/bsdtar on PATH")
    served, base = http_root
    make_rar(served / "UCF50.rar", {f"UCF50/{c}/v_{c}_g01_c01.avi": right_video.read_bytes()
                                    for c in ("Left", "Right")})
    monkeypatch.setenv("HAR_UCF50_URL", f"{base}/UCF50.rar")
    target = tmp_path / "ucf50"
    monkeypatch.setenv("HAR_DATA_DIR", str(target))
    at = run_page()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.get("progress")[0].proto.value == 100
    assert "UCF50 is ready" in at.success[0].value
    assert sorted(p.name for p in target.iterdir()) == ["Left", "Right"]
    assert (tmp_path / "cache" / "downloads" / "UCF50.rar").is_file()
    assert not list((tmp_path / "cache" / "downloads").glob("*.part"))
    at.button[-1].click().run()  # "Browse it"
    assert {m.label: m.value for m in at.metric}["Classes"] == "2"


def test_download_without_rar_tool_says_what_to_install(http_root: tuple[Path, str], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    served, base = http_root
    make_rar(served / "UCF50.rar", {"UCF50/A/v_A_g01_c01.avi": b"x"})
    monkeypatch.setenv("HAR_UCF50_URL", f"{base}/UCF50.rar")
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "ucf50"))
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    at = run_page()
    assert "install one of unrar, 7z" in at.warning[0].value
    at.button[0].click().run()
    assert not at.exception
    assert "install one of unrar, 7z" in at.error[0].value
    assert (tmp_path / "cache" / "downloads" / "UCF50.rar").is_file()
    assert not (tmp_path / "ucf50").exists()


def test_download_failure_is_one_clear_line(http_root: tuple[Path, str], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, base = http_root
    monkeypatch.setenv("HAR_UCF50_URL", f"{base}/missing.rar")
    monkeypatch.setenv("HAR_DATA_DIR", str(tmp_path / "ucf50"))
    at = run_page()
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value == "the download failed: the server answered 404 File not found"
    assert [b.label for b in at.button] == ["Download UCF50"]  # the page still works
