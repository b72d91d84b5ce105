"""Features on a Ray cluster against one process (issue 24), and what a larger set would take.

`python -m benchmarks.cluster [--quick]` prints the figures (every ratio measured in the same run) and writes
benchmarks/cluster.json. Each run is a whole `python -m har_core extract` process on a fresh cache: the default
model's 260 px frames and EfficientNet-Lite2 features of the 403 clips of HorseRace, PizzaTossing, PlayingPiano
and PlayingViolin (../shared/data/ucf50; `--quick`: 40 of them), timed from start to exit:
1. one process, today's local path (decoding threads, LiteRT on every core);
2. Ray with 1 worker CPU: a head node of one CPU on this machine, `extract --ray`;
3. Ray with 2 worker CPUs: that head and a worker node of one CPU each.
Then one clip's cost split into decoding and encoding, in one thread on 40 clips, and the projection the README
quotes: UCF101 (13,320 clips) and a 300k-clip set on N one-CPU workers, from run 2's cost per clip and the
scaling of run 3 over run 2, with what the CPU hours cost at the price below. The machine is shared: the load
average before and after is recorded.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.raycluster import LocalCluster

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "cluster.json"
DATA = ROOT.parent / "shared" / "data" / "ucf50"
FOUR = ("HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin")
TARGET = 1.7  # the 2-CPU run's throughput over the 1-CPU run's
SETS = {"UCF101": 13_320, "300k clips": 300_000}
WORKERS = (16, 64, 256)
CPU_HOUR_USD = 0.0425  # one vCPU for an hour on demand: AWS c6i.large's list price ($0.085/h, 2 vCPUs), us-east-1


def extract(data: Path, cache: Path, *extra: str) -> dict[str, Any]:
    """One whole `extract` process on the four classes; its --json report and its wall time."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "har_core", "extract", str(data), "--classes", *FOUR, "--cache",
                           str(cache), *extra, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    if report["done"] != report["clips"] or report["failed"]:
        raise SystemExit(f"not every clip was computed: {report}")
    return {"clips": report["clips"], "wall_s": round(wall, 2), "job_s": report["seconds"],
            "clips_per_s": round(report["clips"] / wall, 3), "workers": report["workers"]}


def on_ray(data: Path, cache: Path, logs: Path, workers: int) -> dict[str, Any]:
    cluster = LocalCluster(logs).start(workers=workers - 1)
    try:
        return extract(data, cache, "--ray", cluster.address)
    finally:
        cluster.stop()


def split(data: Path, n: int = 40) -> dict[str, float]:
    """Seconds per clip of decoding and sampling, and of encoding its 20 frames, in one thread (what one Ray
    worker of one CPU does per clip)."""
    os.environ["HAR_LITERT_THREADS"] = "1"
    import cv2

    from har_core.cluster.targets import targets_for
    from har_core.datasets.dataset import scan
    from har_core.media.sampling import ClipSampler
    from har_core.media.video import sample_clip
    from har_core.models import encoders

    cv2.setNumThreads(1)
    targets = targets_for(None)
    encoder = encoders.load(encoders.find(targets.encoder))
    clips = scan(data).select(FOUR).clips[::max(1, 403 // n)][:n]
    decode = encode = 0.0
    for clip in clips:
        t0 = time.perf_counter()
        frames = sample_clip(clip.path, ClipSampler(targets.length, targets.size)).frames
        t1 = time.perf_counter()
        encoder.encode(frames)
        decode, encode = decode + t1 - t0, encode + time.perf_counter() - t1
    return {"clips": len(clips), "decode_s": round(decode / len(clips), 4), "encode_s": round(encode / len(clips), 4)}


def projection(per_clip_s: float, efficiency: float) -> dict[str, Any]:
    """Hours on N one-CPU workers and what the CPU time costs, for each set: clips x cost per clip on one worker
    CPU / (N x the measured efficiency of adding a worker)."""
    out: dict[str, Any] = {}
    for name, clips in SETS.items():
        cpu_hours = clips * per_clip_s / efficiency / 3600
        out[name] = {"clips": clips, "cpu_hours": round(cpu_hours, 2), "usd": round(cpu_hours * CPU_HOUR_USD, 2),
                     "hours_on": {str(n): round(cpu_hours / n, 3) for n in WORKERS}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 clips instead of 403")
    args = ap.parse_args()
    if not (DATA / FOUR[0]).is_dir():
        raise SystemExit(f"no UCF50 clips at {DATA}")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="har-cluster-bench-") as tmp:
        data = Path(tmp) / "data"
        for label in FOUR:  # the four classes alone, linked (--quick: every tenth clip)
            (data / label).mkdir(parents=True)
            for clip in sorted((DATA / label).glob("*.avi"))[::10 if args.quick else 1]:
                (data / label / clip.name).symlink_to(clip)
        runs = {"one process": extract(data, Path(tmp) / "c0")}
        for n in (1, 2):
            (Path(tmp) / f"logs{n}").mkdir()
            runs[f"ray, {n} worker CPU{'s' if n > 1 else ''}"] = on_ray(data, Path(tmp) / f"c{n}", Path(tmp) / f"logs{n}", n)
        cost = split(data)
    one, ray1, ray2 = runs.values()
    scaling = ray2["clips_per_s"] / ray1["clips_per_s"]
    per_clip = 1 / ray1["clips_per_s"]  # seconds of one worker CPU per clip, overheads of a whole run included
    result = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "load_before": [round(x, 2) for x in load_before], "runs": runs,
        "ratios": {"ray 2 CPUs / ray 1 CPU": round(scaling, 2), "ray 1 CPU / one process":
                   round(ray1["clips_per_s"] / one["clips_per_s"], 2), "ray 2 CPUs / one process":
                   round(ray2["clips_per_s"] / one["clips_per_s"], 2)},
        "target": {"ray 2 CPUs / ray 1 CPU": TARGET, "met": scaling >= TARGET},
        "per_clip": {"worker_cpu_s": round(per_clip, 3), **cost},
        "projection": {"cpu_hour_usd": CPU_HOUR_USD, "efficiency": round(min(1.0, scaling / 2), 3),
                       "sets": projection(per_clip, min(1.0, scaling / 2))},
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    for name, r in runs.items():
        print(f"{name:22s} {r['clips']} clips in {r['wall_s']:7.1f} s: {r['clips_per_s']:.2f} clips/s")
    for name, ratio in result["ratios"].items():
        print(f"{name:28s} {ratio:.2f}x")
    print(f"target: ray 2 CPUs >= {TARGET}x ray 1 CPU: {'met' if result['target']['met'] else 'NOT met'}")
    print(f"per clip on one worker CPU: {per_clip:.3f} s ({cost['decode_s']:.3f} s decoding, {cost['encode_s']:.3f} s "
          f"encoding, in one thread)")
    for name, p in result["projection"]["sets"].items():
        print(f"{name}: {p['cpu_hours']} CPU hours (${p['usd']} at ${CPU_HOUR_USD}/vCPU-hour); "
              + ", ".join(f"{h} h on {n}" for n, h in p["hours_on"].items()))
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    if not args.quick:
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
