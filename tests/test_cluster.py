"""`extract --ray` and `annotate-many` on a real Ray cluster started here (a head and a worker node of one CPU
each, benchmarks.raycluster): the same files as a local run, bit for bit, the same label tracks as `annotate`,
a worker node lost mid-job, and bad input said in one line. The quick checks need no cluster."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from synth import make_dataset, make_video
from test_cli import ROOT, assert_user_error, last_json, run

from benchmarks.raycluster import LocalCluster, free_port
from har_core.cluster.inputs import collect, output_names
from har_core.errors import HarError
from har_core.media.video import video_codec

slow = pytest.mark.slow


def files(folder: Path) -> dict[str, float]:
    """Every file under `folder` (relative name: modification time)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def partials(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".partial-*")]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("ray")
    nodes = LocalCluster(tmp_path_factory.mktemp("ray"))
    try:
        yield nodes.start(workers=1)
    finally:
        nodes.stop()


@pytest.fixture(scope="module")
def mixed_data(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """6 synthetic clips, 4 real UCF50 clips of two classes the default model knows, and one that is not a video."""
    root = make_dataset(tmp_path_factory.mktemp("mixed"), per_class_groups=2, clips_per_group=1)
    for label in ("HorseRace", "PlayingViolin"):
        (root / label).mkdir()
        for clip in sorted((shared_data / label).glob("*_g01_*.avi"))[:2]:
            shutil.copy(clip, root / label / clip.name)
    (root / "Left" / "v_Left_g09_c01.avi").write_text("not a video")
    return root


# --- extract -------------------------------------------------------------------------------------------

@slow
@pytest.mark.realdata
def test_extract_on_ray_writes_what_a_local_run_writes_bit_for_bit(cluster, mixed_data, tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    local = last_json(run("extract", mixed_data, "--cache", here, "--pose", "--json"))
    remote = last_json(run("extract", mixed_data, "--cache", there.as_uri(), "--pose", "--ray", cluster.address,
                           "--json"))
    for r in (local, remote):
        assert (r["clips"], r["done"], r["skipped"], r["missing"]) == (11, 10, 0, [])
        assert [(Path(f["video"]).name, "not a readable video" in f["reason"]) for f in r["failed"]] == [
            ("v_Left_g09_c01.avi", True)]
        assert r["backbone"] == "efficientnet-lite2" and r["keypoints"]
    assert remote["workers"] == 2
    written = files(here)
    assert sorted(written) == sorted(files(there)) and len(written) == 30  # clip, features, keypoints of 10
    for name in written:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name

    before = files(there)
    again = last_json(run("extract", mixed_data, "--cache", there, "--pose", "--ray", cluster.address, "--json"))
    assert (again["done"], again["skipped"], len(again["failed"])) == (0, 10, 1)
    ev = last_json(run("evaluate", mixed_data, "--cache", there, "--json"))  # the driver reads the cluster's cache
    assert ev["n"] == 4 and "unknown_rejected" in ev
    assert files(there) == before, "evaluate recomputed what the cluster had cached"
    assert partials(there) == []


# --- annotate-many -------------------------------------------------------------------------------------

@pytest.fixture
def videos(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "videos"
    make_video(folder / "right.avi", "Right", n=60, seed=7)
    shutil.copy(next((shared_data / "HorseRace").glob("*_g02_*.avi")), folder / "horse.avi")
    (folder / "broken.avi").write_text("not a video")
    return folder


@slow
@pytest.mark.realdata
def test_annotate_many_on_ray_gives_annotates_tracks_and_resumes_here(cluster, videos, tmp_path):
    out = tmp_path / "out"
    r = last_json(run("annotate-many", videos, "--out", out, "--video", "--ray", cluster.address, "--json"))
    assert (r["videos"], r["done"], r["skipped"], r["missing"]) == (3, 2, 0, [])
    assert [(Path(f["video"]).name, "not a readable video" in f["reason"]) for f in r["failed"]] == [
        ("broken.avi", True)]
    for name in ("right", "horse"):
        track = json.loads((out / f"{name}.json").read_text())
        single = last_json(run("annotate", videos / f"{name}.avi", "--out", tmp_path / f"{name}.mp4", "--json"))
        for key in ("timeline", "label", "known", "confidence", "top_k", "frames", "full_windows", "confidence_of"):
            assert track[key] == single[key], key
        assert track["overlay"] == f"{name}.mp4" and video_codec(out / f"{name}.mp4") == "h264"
    rows = (out / "summary.csv").read_text().splitlines()
    assert len(rows) == 4 and [row.split(",")[2] for row in rows[1:]] == ["failed", "done", "done"]

    written = files(out)
    again = last_json(run("annotate-many", videos, "--out", out, "--video", "--json"))  # no Ray: here
    assert (again["done"], again["skipped"], len(again["failed"]), again["ray"]) == (0, 2, 1, None)
    assert {k: v for k, v in files(out).items() if k != "summary.csv"} == {
        k: v for k, v in written.items() if k != "summary.csv"}
    assert partials(out) == []


@slow
def test_annotate_many_through_ray_client_writes_parquet(cluster, tmp_path):
    import pyarrow.parquet as pq

    video = make_video(tmp_path / "in" / "left.avi", "Left", n=40)
    r = last_json(run("annotate-many", tmp_path / "in" / "*.avi", "--out", tmp_path / "out", "--summary", "parquet",
                      "--ray", cluster.client_address, "--json"))
    assert (r["done"], r["failed"]) == (1, [])
    table = pq.read_table(tmp_path / "out" / "summary.parquet").to_pylist()
    assert [(row["video"], row["status"], row["track"]) for row in table] == [(str(video), "done", "left.json")]


# --- what a Ray actor runs never starts TensorFlow ------------------------------------------------------

ACTORS = """
import json, sys
from pathlib import Path
from har_core.cluster.annotate import AnnotateJob, Annotator
from har_core.cluster.extract import ClipWorker
from har_core.cluster.targets import targets_for
from har_core.datasets.dataset import cache_key
video, tmp = Path(sys.argv[1]), Path(sys.argv[2])
clips = ClipWorker(str(tmp / "cache"), targets_for(None, pose=True), "job", 1)
tracks = Annotator(AnnotateJob(sys.argv[3], str(tmp / "out"), True, None, "job"), 1)
status = clips({"video": [str(video)], "key": [cache_key(video)]})["status"]
status += tracks({"video": [str(video)], "name": ["clip"]})["status"]
print(json.dumps({"status": status, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
"""


@slow  # a fresh process, as a Ray worker is
def test_what_a_ray_actor_runs_never_imports_tensorflow(tmp_path):
    video = make_video(tmp_path / "clip.avi", "Right", n=60)
    proc = subprocess.run([sys.executable, "-c", ACTORS, str(video), str(tmp_path),
                           str(ROOT / "weights" / "imagenet_segments_lite2")], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"status": ["done", "done"], "tensorflow": False,
                                                               "keras": False}


# --- a worker node lost mid-job -----------------------------------------------------------------------

@slow
def test_a_worker_node_killed_mid_job_every_clip_once_nothing_half_written(cluster, tmp_path):
    data = make_dataset(tmp_path / "data", per_class_groups=5, clips_per_group=3)  # 45 clips
    cache = tmp_path / "cache"
    features = cache / "features-v1-efficientnet-lite2-clips-v1-L20-S260-rgb"
    job = subprocess.Popen([sys.executable, "-m", "har_core", "extract", str(data), "--cache", str(cache), "--ray",
                            cluster.address, "--json"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline = time.monotonic() + 300
    while len(list(features.glob("*.npy"))) < 4:
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.2)
    worker = cluster.live_nodes()[-1]
    cluster.kill_raylet(worker)
    done_at_kill = len(list(features.glob("*.npy")))
    stdout, stderr = job.communicate(timeout=600)
    assert job.returncode == 0, stderr
    cluster.add_worker()  # the cluster whole again for any test after this one

    r = json.loads(stdout.strip().splitlines()[-1])
    assert done_at_kill < 45 and (r["clips"], r["done"], r["skipped"], r["failed"], r["missing"]) == (45, 45, 0, [], [])
    assert worker.poll() is not None  # the node really went
    for folder in (cache / "clips-v1-L20-S260-rgb", features):
        names = sorted(p.name for p in folder.iterdir())
        assert len(names) == 45 and all(not n.startswith(".") for n in names), names
    assert all(np.load(p).shape == (20, 1280) for p in features.iterdir())
    assert partials(cache) == []


# --- bad input: one line, exit 2 (no cluster needed) ----------------------------------------------------

def test_an_unreachable_cluster_is_one_line_at_once(synth_data, tmp_path):
    for address in (f"127.0.0.1:{free_port()}", f"ray://127.0.0.1:{free_port()}"):
        start = time.monotonic()
        assert_user_error(run("extract", synth_data, "--cache", tmp_path, "--ray", address, check=False),
                          "no Ray cluster answers at", address)
        assert time.monotonic() - start < 20
    assert_user_error(run("extract", synth_data, "--ray", "cluster", check=False), "host:port")


def test_an_output_folder_that_is_a_file_is_one_line(right_video, tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert_user_error(run("annotate-many", right_video, "--out", taken, "--ray", f"127.0.0.1:{free_port()}",
                          check=False), "is a file, not a folder", str(taken))


def test_videos_come_from_folders_lists_and_globs_once_each(tmp_path):
    for name in ("a.avi", "sub/b.mp4", "c.mkv"):
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / name).write_bytes(b"")
    (tmp_path / "in" / "notes.txt").write_text("")
    listing = tmp_path / "list.txt"
    listing.write_text("# mine\nin/a.avi\n\nin/missing.avi\n")
    got = collect([str(tmp_path / "in"), str(listing), str(tmp_path / "in" / "*.mkv")], skip=tmp_path / "in" / "sub")
    assert got == [(tmp_path / "in" / n).resolve() for n in ("a.avi", "c.mkv")] + [tmp_path / "in" / "missing.avi"]
    assert output_names(got) == ["a", "c", "missing"]
    with pytest.raises(HarError, match="two videos share the name a"):
        output_names([tmp_path / "a.avi", tmp_path / "x" / "a.mp4"])
    for bad, words in (("nowhere", "no such file or folder"), (str(tmp_path / "*.webm"), "no video matches")):
        with pytest.raises(HarError, match=words):
            collect([bad])
