"""The default (ImageNet-frame) model against the issue's targets, each measured as a ratio or a whole process.

`python -m benchmarks.pretrained [--data DIR] [--model DIR] [--skip-cold]` prints one line per row:
1. annotating a 30 s 640×360 video, the whole `python -m har_core annotate` process, against the paper's
   procedure (a deque of 20 consecutive frames, `model.predict` on every frame) with the same weights in
   the same run; the paper's path is timed on the first 150 frames, its cost being the same for every frame;
2. that annotate process's peak RSS (TensorFlow + the loaded model) and the bundle's size on disk;
3. training the head on the four classes (403 clips): a cold cache (decode, encode every frame, fit) and a
   warm one (features cached), each a whole `python -m har_core train` process.
The webcam figures come from `python -m benchmarks.device` (callback p95, first label, prediction latency).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOUR = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `python -m har_core` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "har_core", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"har_core {args[0]} failed: {r.stderr[-1500:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def paper_frames_per_second(bundle: Any, video: Path, frames: int = 150) -> float:
    """The paper's predict_on_video loop at the model's size: model.predict on every frame's deque."""
    size, length = bundle.sampler.image_size, bundle.sampler.frames
    queue: collections.deque[np.ndarray] = collections.deque(maxlen=length)
    cap = cv2.VideoCapture(str(video))
    bundle.model.predict(np.zeros((1, length, size, size, 3), "uint8"), verbose=0)  # trace once
    start = time.perf_counter()
    n = 0
    while n < frames:
        ok, frame = cap.read()
        if not ok:
            break
        queue.append(cv2.cvtColor(cv2.resize(frame, (size, size)), cv2.COLOR_BGR2RGB))
        if len(queue) == length:
            bundle.model.predict(np.expand_dims(np.stack(queue), 0), verbose=0)
        cv2.putText(frame, "label", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 2)
        n += 1
    cap.release()
    return n / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pretrained", description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="UCF50 folder (default: HAR_DATA_DIR or ../shared/data/ucf50)")
    p.add_argument("--model", default=None, help="bundle (default: the default model)")
    p.add_argument("--skip-cold", action="store_true", help="skip the cold-cache training (minutes)")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from benchmarks.device import synth_video
    from har_core.config import settings
    from har_core.models.bundle import MODEL_FILE, load_bundle
    from har_core.models.registry import default_model_dir

    data = Path(a.data or settings().data_dirs[0])
    model_dir = Path(a.model or default_model_dir())
    out: dict[str, Any] = {"model": model_dir.name, "load_average_before": os.getloadavg()[0]}
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory(prefix="har-bench-") as tmp:
        video = synth_video(Path(tmp) / "long.avi", 30.0)
        wall, rss = run_cli(["annotate", str(video), "--out", f"{tmp}/out.mp4", "--model", str(model_dir)], env)
        bundle = load_bundle(model_dir)
        paper_fps = paper_frames_per_second(bundle, video)
        out["annotate"] = {"frames": 900, "ours_process_s": round(wall, 2), "ours_fps": round(900 / wall, 1),
                           "paper_fps": round(paper_fps, 2), "speedup": round(900 / wall / paper_fps, 1),
                           "peak_rss_mib": round(rss), "bundle_mib": round(
                               (model_dir / MODEL_FILE).stat().st_size / 2**20, 1)}
        print("annotate 30 s 640x360:", out["annotate"], flush=True)
        train = ["train", str(data), "--arch", bundle.meta["architecture"], "--out", f"{tmp}/b", "--classes", *FOUR,
                 "--val-groups", "g02", "g04", "g08", "--test-groups", "g01", "g11", "g12", "g15", "g20"]
        cold_env = {**env, "HAR_CACHE_DIR": f"{tmp}/cache"}
        if not a.skip_cold:
            out["train_cold_s"] = round(run_cli(train, cold_env)[0], 1)
            print("train head, cold cache:", out["train_cold_s"], "s", flush=True)
        else:
            run_cli(train, cold_env)
        out["train_warm_s"] = round(run_cli(train, cold_env)[0], 1)
        print("train head, warm cache:", out["train_warm_s"], "s", flush=True)
    out["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
