"""`python -m har_core` as a user runs it: every subcommand on synthetic and real clips, and its errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from httpserver import LocalServer
from synth import make_video

from har_core.media.video import video_codec

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "har_core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ})
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_user_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- synthetic videos -------------------------------------------------------------------------------

def test_info_merges_several_data_folders_by_class(synth_data, tmp_path):
    make_video(tmp_path / "more" / "Left" / "v_Left_g09_c01.avi")
    make_video(tmp_path / "more" / "Wave" / "v_Wave_g01_c01.avi")
    info = last_json(run("info", synth_data, tmp_path / "more", "--json"))
    assert info["roots"] == [str(synth_data), str(tmp_path / "more")]
    assert info["classes"]["Left"]["clips"] == 9 and info["classes"]["Wave"]["clips"] == 1
    make_video(tmp_path / "clash" / "Left" / "v_Left_g01_c01.avi")
    assert_user_error(run("info", synth_data, tmp_path / "clash", check=False), "v_Left_g01_c01", str(tmp_path))


@pytest.mark.slow
def test_info_extract_train_evaluate_on_synthetic_data(synth_data, tmp_path):
    info = last_json(run("info", synth_data, "--json"))
    assert set(info["classes"]) == {"Left", "Right", "Up"} and info["clips"] == 24
    ex = last_json(run("extract", synth_data, "--classes", "Left", "Up", "--model", ROOT / "weights" / "lrcn",
                       "--json"))  # what the LRCN trained below reads: 64 px frames
    assert ex["clips"] == 16 and ex["failed"] == [] and ex["backbone"] is None
    out = tmp_path / "m"
    trained = last_json(run("train", synth_data, "--arch", "lrcn", "--out", out, "--epochs", "2",
                            "--val-groups", "g03", "--test-groups", "g04", "--json"))
    assert trained["metrics"]["test"]["held_out_groups"] == ["g04"]
    meta = json.loads((out / "model.json").read_text())
    assert meta["training"]["command"].startswith("python -m har_core train")
    ev = last_json(run("evaluate", synth_data, "--model", out, "--groups", "g04", "--json"))
    assert ev["n"] == 6 and len(ev["confusion"]) == 3 and set(ev["per_class"]) == {"Left", "Right", "Up"}
    assert ev["groups_seen_in_training"] == []


@pytest.mark.slow
def test_classify_and_annotate_synthetic(synth_bundle, right_video, tmp_path):
    from har_core.models.bundle import load_bundle
    from har_core.prediction.inference import classify

    c = last_json(run("classify", right_video, "--model", synth_bundle, "--json"))
    p = classify(load_bundle(synth_bundle), right_video)[0].probs  # the model's own answer, in this process
    assert c["label"] == "Right" and len(c["top_k"]) == 3
    assert c["confidence"] == pytest.approx(max(p), abs=1e-5) == c["top_k"][0]["p"]
    assert [t["p"] for t in c["top_k"]] == pytest.approx(sorted(p, reverse=True), abs=1e-5)
    assert c["confidence_of"] == "one clip of 20 frames spread over the whole video"
    out = tmp_path / "ann.mp4"
    a = last_json(run("annotate", right_video, "--out", out, "--model", synth_bundle, "--json"))
    assert a["frames"] == 60 and a["fps"] == pytest.approx(25) and a["timeline"]
    assert a["full_windows"] == 0 and len(a["timeline"]) == 8  # 2.4 s: shorter than one 6.4 s window
    assert a["confidence_of"] == "one window over the whole video (shorter than the model's 6.4 s)"
    assert video_codec(out) == "h264"


def test_download_from_a_local_server(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    make_video(www / "clip.avi", n=30)
    with LocalServer(www) as server:
        d = last_json(run("download", f"{server.url}/clip.avi", "--cache", tmp_path / "dl", "--json"))
    assert Path(d["path"]).is_file()


# --- real clips -------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_all_subcommands_on_shared_clips(shared_data, tmp_path):
    info = last_json(run("info", shared_data, "--json"))
    assert info["classes"]["HorseRace"]["groups"] == 23
    classes = ["HorseRace", "PlayingViolin"]
    ex = last_json(run("extract", shared_data, "--classes", *classes, "--model", ROOT / "weights" / "lrcn", "--json"))
    assert ex["clips"] >= 200 and ex["failed"] == []
    out = tmp_path / "real"
    t = last_json(run("train", shared_data, "--arch", "lrcn", "--classes", *classes, "--out", out,
                      "--epochs", "1", "--json"))
    assert "test groups" in t["metrics"]["test"]["protocol"]
    test_groups = t["metrics"]["test"]["held_out_groups"]
    ev = run("evaluate", shared_data, "--model", out, "--groups", *test_groups, "--json")
    result = last_json(ev)
    assert "skipped classes the model does not know" in ev.stderr and "PizzaTossing" in ev.stderr
    assert result["groups"] == sorted(test_groups) and result["groups_seen_in_training"] == []
    clip = next((shared_data / "HorseRace").glob(f"*_{test_groups[0]}_*.avi"))
    c = last_json(run("classify", clip, "--model", out, "--json"))
    assert c["label"] in classes and c["frames"] > 20
    video = tmp_path / "horse.mp4"
    a = last_json(run("annotate", clip, "--out", video, "--model", out, "--json"))
    assert video_codec(video) == "h264" and a["frames"] == c["frames"]


# --- errors: exit 2, one line, no traceback -----------------------------------------------------------

def test_missing_empty_and_text_files(tmp_path):
    assert_user_error(run("classify", tmp_path / "nope.mp4", check=False), "no such file")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert_user_error(run("classify", empty, check=False), "empty")
    text = tmp_path / "notes.mp4"
    text.write_text("definitely not a video\n" * 100)
    assert_user_error(run("annotate", text, "--out", tmp_path / "o.mp4", check=False), "not a readable video")
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.slow
def test_truncated_video(synth_bundle, tmp_path):
    full = make_video(tmp_path / "full.avi", n=60).read_bytes()
    header_only = tmp_path / "cut.avi"
    header_only.write_bytes(full[:1500])
    assert_user_error(run("classify", header_only, "--model", synth_bundle, check=False))
    half = tmp_path / "half.avi"
    half.write_bytes(full[: len(full) // 2])
    proc = run("classify", half, "--model", synth_bundle, "--json")
    assert "truncated" in proc.stderr and last_json(proc)["frames"] < 60


@pytest.mark.slow
def test_one_frame_video(synth_bundle, tmp_path):
    one = make_video(tmp_path / "one.avi", n=1)
    assert_user_error(run("classify", one, "--model", synth_bundle, check=False), "1 frame")
    assert_user_error(run("annotate", one, "--out", tmp_path / "o.mp4", "--model", synth_bundle, check=False))
    assert not (tmp_path / "o.mp4").exists()


def test_bad_urls(tmp_path):
    assert_user_error(run("download", "notaurl", check=False), "http")
    assert_user_error(run("download", "ftp://example.com/v.mp4", check=False), "http")
    assert_user_error(run("classify", "https://example.com/v.mp4", check=False), "is a link", "har_core download")
    missing = tmp_path / "real clip.mp4"
    assert_user_error(run("annotate", f"file://{str(missing).replace(' ', '%20')}", "--out", tmp_path / "o.mp4",
                          check=False), f"no such file: {missing}")


@pytest.mark.slow
def test_bad_model_bad_arguments_and_bad_data(right_video, tmp_path):
    assert_user_error(run("classify", right_video, "--model", tmp_path / "none", check=False), "no model bundle")
    assert_user_error(run("train", tmp_path, "--arch", "vgg", "--out", tmp_path / "x", check=False), "invalid choice")
    assert_user_error(run("info", tmp_path / "nodata", check=False), "no data folder")
    assert_user_error(run("annotate", right_video, "--out", tmp_path / "o.avi", check=False), ".mp4")
