"""Our path against a faithful re-implementation of the paper's procedure, same inputs, same run.

`python -m benchmarks [--quick]` prints a table and writes benchmarks/results.json. Rows:
1. dataset extraction (seeking into float64 arrays vs sequential decoding into the uint8 cache);
2. video annotation (model.predict per frame over a deque vs our batched sliding windows), same weights;
3. streaming (what a 25 fps frame callback costs: the paper's per-frame predict vs StreamClassifier.push);
4. one training epoch (float arrays in memory + model.fit vs ClipSequence from the cache).
Memory is each path's own process peak (see tasks.py); `net` subtracts a process that loads the same
libraries and does no work. The machine is shared: the load average before and after is recorded.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
FOUR = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]
TARGETS = {"extraction_speedup": 2.0, "annotation_speedup": 10.0, "stream_p95_ms": 40.0, "train_net_memory": 0.25}


def child(task: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one task of tasks.py in a fresh Python process; its JSON result, with its own peak RSS."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(args, fh)
    try:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        r = subprocess.run([sys.executable, "-m", "benchmarks.tasks", task, fh.name], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    if r.returncode != 0:
        raise SystemExit(f"benchmark task {task} failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gib": round(int(mem) / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def _warm_files(paths: list[Path]) -> None:
    """Read every file once so neither path pays for a cold disk cache the other does not."""
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(1 << 20):
                pass


def bench_extraction(data: Path, per_class: int | None) -> dict[str, Any]:
    from har_core.datasets.dataset import scan

    by_class = scan(data).select(FOUR).by_class()
    _warm_files([c.path for label in FOUR for c in by_class[label][:per_class]])
    args = {"root": str(data), "classes": FOUR, "per_class": per_class}
    base = child("extract_base", args)
    paper = child("extract_paper", args)
    ours = child("extract_ours", args)
    b = base["peak_rss_mb"]
    return {"paper": paper, "ours": ours, "baseline_rss_mb": b,
            "speedup": paper["seconds"] / ours["seconds"],
            "memory_raw_ratio": ours["peak_rss_mb"] / paper["peak_rss_mb"],
            "memory_net_ratio": max(ours["peak_rss_mb"] - b, 0) / max(paper["peak_rss_mb"] - b, 1e-9)}


def bench_training(cache_paths: list[Path], labels: list[int], arch: str) -> dict[str, Any]:
    args = {"paths": [str(p) for p in cache_paths], "labels": labels, "classes": FOUR, "arch": arch, "seed": 27}
    base = child("train_base", args)
    paper = child("train_paper", args)
    ours = child("train_ours", args)
    b = base["peak_rss_mb"]
    return {"arch": arch, "clips": len(cache_paths), "paper": paper, "ours": ours, "baseline_rss_mb": b,
            "time_ratio": ours["seconds"] / paper["seconds"],
            "memory_raw_ratio": ours["peak_rss_mb"] / paper["peak_rss_mb"],
            "memory_net_ratio": max(ours["peak_rss_mb"] - b, 0) / max(paper["peak_rss_mb"] - b, 1e-9)}


def _frame_labels(ann: Any, classes: list[str], n: int) -> list[int]:
    """Our annotated label of each frame: the smoothed window that the frame falls in (as drawn)."""
    per_window = [classes.index(t["label"]) for t in ann.timeline]
    return [per_window[min(t // ann.step, len(per_window) - 1)] for t in range(n)]


def bench_annotation(bundle: Any, videos: list[tuple[Path, str]], out_dir: Path) -> dict[str, Any]:
    from benchmarks.paper_baseline import float_model, predict_on_video
    from har_core.prediction.inference import annotate, window_probs

    classes = bundle.classes
    paper_model = float_model(bundle.model)
    paper_model.predict(np.zeros((1, *paper_model.input_shape[1:]), "float32"), verbose=0)  # trace once
    window_probs(bundle, np.zeros((40, bundle.sampler.image_size, bundle.sampler.image_size, 3), "uint8"))  # trace once
    ours_s = paper_s = 0.0
    frames = agree = compared = paper_right = ours_right = 0
    per_video = []
    for path, truth in videos:
        start = time.perf_counter()
        ann = annotate(bundle, path, out_dir / "ours.mp4")
        ours_t = time.perf_counter() - start
        start = time.perf_counter()
        paper_labels = predict_on_video(paper_model, classes, path, out_dir / "paper.avi")
        paper_t = time.perf_counter() - start
        ours_labels = _frame_labels(ann, classes, ann.frames)
        pairs = [(p, o) for p, o in zip(paper_labels, ours_labels) if p is not None]
        t = classes.index(truth)
        agree += sum(p == o for p, o in pairs)
        paper_right += sum(p == t for p, _ in pairs)
        ours_right += sum(o == t for _, o in pairs)
        compared += len(pairs)
        frames += ann.frames
        ours_s += ours_t
        paper_s += paper_t
        per_video.append({"video": path.name, "frames": ann.frames, "ours_s": round(ours_t, 2),
                          "paper_s": round(paper_t, 2), "ours_label": ann.prediction.label})
    return {"videos": per_video, "frames": frames, "paper_fps": frames / paper_s, "ours_fps": frames / ours_s,
            "speedup": paper_s / ours_s, "agreement": agree / compared, "frames_compared": compared,
            "paper_true_class": paper_right / compared, "ours_true_class": ours_right / compared}


def _pct(values: list[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)), "n": len(values)}


def bench_streaming(bundle: Any, video: Path, n_frames: int, fps: float = 25.0) -> dict[str, Any]:
    """Frames arrive in real time at `fps`; we time what each frame costs the callback."""
    from benchmarks.paper_baseline import PaperStream, float_model
    from har_core.media.video import iter_frames
    from har_core.prediction.inference import StreamClassifier

    source = list(iter_frames(video))
    frames = [source[i % len(source)] for i in range(n_frames)]

    def paced(process: Any) -> list[float]:
        costs, start = [], time.perf_counter()
        for i, frame in enumerate(frames):
            wait = start + i / fps - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t = time.perf_counter()
            process(i, frame)
            costs.append((time.perf_counter() - t) * 1000)
        return costs

    warm = StreamClassifier(bundle)
    warm.push(frames[0], 0.0)
    warm.predict_now()  # trace the model once, outside the timing
    latencies: list[float] = []
    with StreamClassifier(bundle) as clf:
        seen = 0

        def push(i: int, frame: np.ndarray) -> None:
            nonlocal seen
            clf.push(frame, i / fps)
            s = clf.state()
            if s.predictions > seen:
                seen = s.predictions
                latencies.append(s.latency_ms)

        ours = paced(push)
    paper = PaperStream(float_model(bundle.model))
    paper.model.predict(np.zeros((1, *paper.model.input_shape[1:]), "float32"), verbose=0)
    paper_costs = paced(lambda i, frame: paper.process(frame))
    return {"video": video.name, "frames": n_frames, "fps_in": fps, "ours_callback_ms": _pct(ours),
            "ours_prediction_ms": _pct(latencies) if latencies else None, "paper_callback_ms": _pct(paper_costs),
            "p95_ratio": _pct(paper_costs)["p95"] / _pct(ours)["p95"]}


def _held_out_videos(bundle: Any, data: Path, quick: bool) -> list[tuple[Path, str]]:
    """For each class the longest clip of the bundle's test groups (never seen in training); --quick: the
    shortest clip of one class, since the paper's path runs at a few frames per second."""
    import cv2

    from har_core.datasets.dataset import scan

    test_groups = set(bundle.meta.get("split", {}).get("test_groups", []))
    out = []
    for label, clips in scan(data).select(bundle.classes).by_class().items():
        held = [c for c in clips if c.group in test_groups] or clips

        def count(c: Any) -> int:
            cap = cv2.VideoCapture(str(c.path))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            return n

        if quick:
            return [(min(held, key=count).path, label)]
        out.append((max(held, key=count).path, label))
    return out


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "-"
    return f"{v:.2f}{unit}" if abs(v) < 10 else f"{v:.1f}{unit}" if abs(v) < 100 else f"{v:.0f}{unit}"


def table(r: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(benchmark, measure, paper, ours, ratio, target met?) rows."""
    e, a, s, t = r["extraction"], r["annotation"], r["streaming"], r["training"]
    ok = lambda c: "yes" if c else "NO"  # noqa: E731
    return [
        ("1 extraction", f"wall time, {e['ours']['clips']} clips (s)", _fmt(e["paper"]["seconds"]),
         _fmt(e["ours"]["seconds"]), f"{e['speedup']:.1f}x faster", ok(e["speedup"] >= TARGETS["extraction_speedup"])),
        ("1 extraction", "peak RSS raw / net (MiB)", f"{e['paper']['peak_rss_mb']:.0f} / "
         f"{e['paper']['peak_rss_mb'] - e['baseline_rss_mb']:.0f}", f"{e['ours']['peak_rss_mb']:.0f} / "
         f"{e['ours']['peak_rss_mb'] - e['baseline_rss_mb']:.0f}", f"{e['memory_net_ratio']:.3f}x (net)", ""),
        ("2 annotation", f"frames/s, {a['frames']} frames", _fmt(a["paper_fps"]), _fmt(a["ours_fps"]),
         f"{a['speedup']:.1f}x faster", ok(a["speedup"] >= TARGETS["annotation_speedup"])),
        ("2 annotation", "frames labelled with the true class (%)", f"{a['paper_true_class'] * 100:.0f}",
         f"{a['ours_true_class'] * 100:.0f}", f"labels agree on {a['agreement'] * 100:.0f}%", ""),
        ("3 streaming", "callback per frame p50 / p95 (ms)",
         f"{_fmt(s['paper_callback_ms']['p50'])} / {_fmt(s['paper_callback_ms']['p95'])}",
         f"{_fmt(s['ours_callback_ms']['p50'])} / {_fmt(s['ours_callback_ms']['p95'])}",
         f"{s['p95_ratio']:.0f}x lower p95", ok(s["ours_callback_ms"]["p95"] < TARGETS["stream_p95_ms"])),
        ("3 streaming", "prediction latency p50 / p95 (ms)", "in callback",
         (f"{_fmt(s['ours_prediction_ms']['p50'])} / {_fmt(s['ours_prediction_ms']['p95'])}"
          if s["ours_prediction_ms"] else "-"), "off the frame path", ""),
        ("4 training", f"one {t['arch']} epoch, {t['ours']['train']} clips (s)", _fmt(t["paper"]["seconds"]),
         _fmt(t["ours"]["seconds"]), f"{t['time_ratio']:.2f}x the time", ""),
        ("4 training", "peak RSS raw / net (MiB)", f"{t['paper']['peak_rss_mb']:.0f} / "
         f"{t['paper']['peak_rss_mb'] - t['baseline_rss_mb']:.0f}", f"{t['ours']['peak_rss_mb']:.0f} / "
         f"{t['ours']['peak_rss_mb'] - t['baseline_rss_mb']:.0f}",
         f"{t['memory_net_ratio']:.3f}x net, {t['memory_raw_ratio']:.2f}x raw",
         ok(t["memory_net_ratio"] <= TARGETS["train_net_memory"])),
    ]


def render(rows: list[tuple[str, ...]]) -> str:
    head = ("benchmark", "measure", "paper", "ours", "ratio", "target met")
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    line = lambda x: "| " + " | ".join(str(v).ljust(w) for v, w in zip(x, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a few clips per benchmark (about 3 minutes)")
    p.add_argument("--data", default=None, help="UCF50 folder (default: HAR_DATA_DIR or ../shared/data/ucf50)")
    p.add_argument("--model", default=None, help="bundle for rows 2-3 (default: weights/lrcn, the paper's network, "
                   "which the paper's procedure in paper_baseline.py reads at 64 px; the default model's rows are "
                   "in benchmarks.pretrained)")
    p.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    a = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from har_core.config import settings
    from har_core.datasets.dataset import extract, scan
    from har_core.models.bundle import load_bundle

    data = Path(a.data or settings().data_dirs[0])
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    per_class = 8 if a.quick else None
    print("row 1: extraction ...", file=sys.stderr, flush=True)
    extraction = bench_extraction(data, per_class)
    print("row 4: training epoch ...", file=sys.stderr, flush=True)
    by_class = scan(data).select(FOUR).by_class()
    clips = [c for label in FOUR for c in by_class[label][: (12 if a.quick else None)]]
    ex = extract(clips)
    training = bench_training(ex.paths, [FOUR.index(c.label) for c in ex.clips], "lrcn")
    bundle = load_bundle(a.model or settings().weights_dir / "lrcn")
    videos = _held_out_videos(bundle, data, a.quick)
    print("row 2: annotation ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="har-bench-") as tmp:
        annotation = bench_annotation(bundle, videos, Path(tmp))
    print("row 3: streaming ...", file=sys.stderr, flush=True)
    streaming = bench_streaming(bundle, videos[0][0], 100 if a.quick else 300)
    results = {"started": started, "quick": a.quick, "machine": machine(),
               "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()], "model": str(bundle.path.name),
               "targets": TARGETS, "extraction": extraction, "annotation": annotation, "streaming": streaming,
               "training": training, "command": "python -m benchmarks" + (" --quick" if a.quick else "")}
    results["table"] = render(table(results))
    m = results["machine"]
    print(results["table"])
    print(f"machine: {m['nproc']} cores, {m['cpu']}, {m['memory_gib']} GiB; load average before "
          f"{results['load_average_before'][0]}, after {results['load_average_after'][0]}")
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {a.out}", file=sys.stderr)
    return 0
