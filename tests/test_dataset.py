"""Scanning UCF50 layout and the uint8 cache."""
import numpy as np
import pytest

from har_core.dataset import extract, group_of, load_cached, scan
from har_core.errors import HarError
from synth import make_video


def test_scan_finds_classes_groups_and_all_video_types(tmp_path):
    (tmp_path / "Jump").mkdir()
    make_video(tmp_path / "Jump" / "v_Jump_g01_c01.avi")
    (tmp_path / "Run").mkdir()
    for ext in (".avi", ".mp4", ".mov", ".mkv", ".webm"):
        (tmp_path / "Run" / f"v_Run_g02_c0{len(ext)}{ext}").write_bytes(b"x")
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


def test_extract_the_four_shared_classes(shared_data, tmp_path):
    index = scan(shared_data).select(["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"])
    assert len(index.clips) >= 400
    ex = extract(index.clips[::40], tmp_path)
    assert len(ex.clips) == len(index.clips[::40]) and not ex.failed
