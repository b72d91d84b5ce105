"""Prediction on LiteRT against Keras and against the paper's procedure, whole processes, in one run.

`python -m benchmarks.runtime [--model DIR] [--json FILE]` prints one line per row:
1. annotating a 30 s 640×360 video, the whole `python -m har_core annotate` process with the default model, on
   LiteRT (what runs by default) and on Keras (HAR_RUNTIME=keras); against the paper's per-frame procedure (a
   deque of 20 consecutive frames, `model.predict` on every frame) with the paper's LRCN (weights/lrcn), timed
   on 150 frames in this process (its cost is the same for every frame);
2. `python -m har_core classify` on an example clip, the whole process, on both runtimes (best of 3);
3. each process's peak RSS (ru_maxrss of the child).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "v_HorseRace_g11_c01.mp4"


def child(args: list[str], runtime: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `python -m har_core` process on `runtime`."""
    env = {**os.environ, "HAR_RUNTIME": runtime}
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run([sys.executable, '-m', 'har_core', *sys.argv[1:]], capture_output=True, text=True); "
            "w = time.perf_counter() - t; "
            "print(r.returncode, w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True); "
            "sys.stderr.write(r.stderr[-1500:])")
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    rc, wall, rss = r.stdout.split()
    if rc != "0":
        raise SystemExit(f"har_core {args[0]} on {runtime} failed: {r.stderr}")
    return float(wall), int(rss) / 1024


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.runtime", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="bundle (default: the default model)")
    p.add_argument("--json", default=None, help="also write the result here")
    a = p.parse_args(argv)
    from benchmarks.device import synth_video
    from benchmarks.pretrained import paper_frames_per_second
    from har_core.models.bundle import load_bundle
    from har_core.models.registry import default_model_dir

    model = Path(a.model or default_model_dir())
    out: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "model": model.name,
                           "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
                           "load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="har-runtime-") as tmp:
        video = synth_video(Path(tmp) / "long.avi", 30.0)
        annotate: dict[str, Any] = {"frames": 900}
        for runtime in ("litert", "keras"):
            wall, rss = child(["annotate", str(video), "--out", f"{tmp}/{runtime}.mp4", "--model", str(model)],
                              runtime)
            annotate[runtime] = {"process_s": round(wall, 2), "fps": round(900 / wall, 1), "peak_rss_mib": round(rss)}
            print(f"annotate 30 s 640x360, {runtime}:", annotate[runtime], flush=True)
        paper = load_bundle(ROOT / "weights" / "lrcn", runtime="keras")
        annotate["paper_lrcn_fps"] = round(paper_frames_per_second(paper, video), 2)
        for runtime in ("litert", "keras"):
            annotate[runtime]["vs_paper"] = round(annotate[runtime]["fps"] / annotate["paper_lrcn_fps"], 1)
        print(f"paper's procedure, paper's LRCN: {annotate['paper_lrcn_fps']} frames/s; ours on LiteRT "
              f"{annotate['litert']['vs_paper']}x, on Keras {annotate['keras']['vs_paper']}x", flush=True)
        out["annotate"] = annotate
        classify: dict[str, Any] = {"clip": EXAMPLE.name}
        for runtime in ("litert", "keras"):
            runs = [child(["classify", str(EXAMPLE), "--model", str(model)], runtime) for _ in range(3)]
            classify[runtime] = {"process_s_best": round(min(w for w, _ in runs), 2),
                                 "process_s_all": [round(w, 2) for w, _ in runs],
                                 "peak_rss_mib": round(max(r for _, r in runs))}
            print(f"classify {EXAMPLE.name}, {runtime}:", classify[runtime], flush=True)
        out["classify"] = classify
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(out))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
