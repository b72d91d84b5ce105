"""Scanning UCF50 layout and the uint8 cache."""
import numpy as np
import pytest
from synth import make_video

from har_core.datasets.dataset import extract, group_of, load_cached, scan
from har_core.errors import HarError


def test_scan_finds_classes_groups_and_all_video_types(tmp_path):
    (tmp_path / "Jump").mkdir()
    make_video(tmp_path / "Jump" / "v_Jump_g01_c01.avi")
    (tmp_path / "Run").mkdir()
    for i, ext in enumerate((".avi", ".mp4", ".mov", ".mkv", ".webm")):
        (tmp_path / "Run" / f"v_Run_g02_c0{i}{ext}").write_bytes(b"x")
    (tmp_path / "Run" / "notes.txt").write_text("not a video")
    index = scan(tmp_path)
    assert index.classes == ["Jump", "Run"]
    assert index.counts() == {"Jump": {"clips": 1, "groups": 1}, "Run": {"clips": 5, "groups": 1}}
    assert {c.group for c in index.clips} == {"g01", "g02"}


def test_group_parsing_and_errors(tmp_path):
    from pathlib import Path

    assert group_of(Path("v_HorseRace_g07_c03.avi")) == "g07"
    assert group_of(Path("myclip.mp4")) == "myclip"
    with pytest.raises(HarError, match="no data folder"):
        scan(tmp_path / "missing")
    with pytest.raises(HarError, match="no videos"):
        scan(tmp_path)


def test_extract_caches_uint8_reuses_and_reports_progress(synth_data, tmp_path):
    index = scan(synth_data)
    seen = []
    first = extract(index.clips[:6], tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6) and len(seen) == 6
    assert first.from_cache == 0 and not first.failed
    clip = load_cached(first.paths[0])
    assert clip.dtype == np.uint8 and clip.shape == (20, 64, 64, 3)
    again = extract(index.clips[:6], tmp_path)
    assert again.from_cache == 6 and again.paths == first.paths


def test_extract_reports_short_and_broken_clips_instead_of_dropping_them(tmp_path):
    (tmp_path / "data" / "A").mkdir(parents=True)
    short = make_video(tmp_path / "data" / "A" / "v_A_g01_c01.avi", n=5)
    broken = tmp_path / "data" / "A" / "v_A_g01_c02.avi"
    broken.write_text("garbage")
    ex = extract(scan(tmp_path / "data").clips, tmp_path / "cache")
    assert [(c.path, n) for c, n in ex.short] == [(short, 5)]
    assert [c.path for c, _ in ex.failed] == [broken]


@pytest.mark.realdata
def test_extract_the_four_shared_classes(shared_data, tmp_path):
    index = scan(shared_data).select(["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"])
    assert len(index.clips) >= 400
    ex = extract(index.clips[::40], tmp_path)
    assert len(ex.clips) == len(index.clips[::40]) and not ex.failed


def _touch(folder, label, name):
    (folder / label).mkdir(parents=True, exist_ok=True)
    (folder / label / name).write_bytes(b"x")
    return folder / label / name


def test_several_folders_merge_by_class_and_say_where_each_class_comes_from(tmp_path):
    import os

    a, b = tmp_path / "ucf50", tmp_path / "ucf101"
    _touch(a, "HorseRace", "v_HorseRace_g01_c01.avi")
    _touch(a, "PlayingViolin", "v_PlayingViolin_g01_c01.avi")
    _touch(b, "PlayingViolin", "v_PlayingViolin_g02_c01.mp4")
    _touch(b, "Archery", "v_Archery_g01_c01.mp4")
    _touch(b, "Wave", "v_Wave_g01_c01.mp4")
    index = scan([a, b])
    assert index.roots == [a, b]
    assert index.counts()["PlayingViolin"] == {"clips": 2, "groups": 2}
    assert index.classes == ["Archery", "HorseRace", "PlayingViolin", "Wave"]
    sources = index.sources()
    assert {c: s["origin"] for c, s in sources.items()} == {
        "Archery": "UCF101", "HorseRace": "UCF50", "PlayingViolin": "UCF50", "Wave": "own"}
    assert sources["PlayingViolin"]["folders"] == f"{a / 'PlayingViolin'}, {b / 'PlayingViolin'}"
    # a PATH-like string names the same dataset; a folder listed twice counts once
    assert scan(f"{a}{os.pathsep}{b}{os.pathsep}{a}").clips == index.clips


def test_one_clip_name_in_two_folders_is_an_error_naming_both(tmp_path):
    first = _touch(tmp_path / "x", "Run", "v_Run_g01_c01.avi")
    second = _touch(tmp_path / "y", "Run", "v_Run_g01_c01.mp4")
    with pytest.raises(HarError, match="v_Run_g01_c01") as err:
        scan([tmp_path / "x", tmp_path / "y"])
    assert str(first) in str(err.value) and str(second) in str(err.value)
    with pytest.raises(HarError, match="no data folder at .*missing"):
        scan([tmp_path / "x", tmp_path / "missing"])
