"""Several visitors annotating at once, as the server runs them: one shared model, one thread per session.

`python -m benchmarks.concurrency` annotates the same video once per simulated session, first 1 session
at a time, then N (default 8) at once, in this one process with one loaded bundle (the app loads a model
once per process and serialises predictions with its Predictor's lock; decoding, drawing and H.264 encoding
run in parallel). It prints throughput, latency and peak memory of both phases and their ratios, checks
every concurrent result equals the single one (nothing leaks or mixes between sessions), and writes
benchmarks/concurrency.json. The machine is shared: the load average before and after is recorded.

`--server` also measures a real `streamlit run app.py` (hosted settings) driven by headless Chromium on
the Predict page: the server's RSS idle, with one model loaded, its peak while 1 session annotates and
while N sessions annotate at once, and the wall time of each phase. `--python` and `--app-dir` choose the
interpreter and checkout that serve (e.g. a fresh virtual environment built like the Dockerfile).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "concurrency.json"


def rss_kib(pid: int | str = "self") -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc (no psutil needed)."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


class PeakRSS:
    """Samples VmRSS of `pid` every 20 ms in a thread; `peak` is the highest seen since the last reset."""

    def __init__(self, pid: int | str = "self") -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_kib(self.pid)[0])

    def reset(self) -> None:
        self.peak = rss_kib(self.pid)[0]

    def __enter__(self) -> "PeakRSS":
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def default_video(data_dir: Path, scratch: Path) -> Path:
    """A real UCF50 clip when the dataset is there, else a synthetic 320x240, 6 s clip (fresh clones)."""
    for cls in ("HorseRace", "PlayingViolin"):
        clips = sorted((data_dir / cls).glob("*.avi")) if (data_dir / cls).is_dir() else []
        if clips:
            return clips[0]
    import cv2
    import numpy as np

    path = scratch / "synthetic.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 240))
    rng = np.random.default_rng(0)
    for t in range(150):
        img = np.clip(np.full((240, 320, 3), 90) + rng.integers(-20, 20, (240, 320, 3)), 0, 255).astype(np.uint8)
        cv2.rectangle(img, (20 + 2 * t, 100), (60 + 2 * t, 140), (255, 255, 255), -1)
        writer.write(img)
    writer.release()
    return path


def summary(seconds: list[float], wall: float, cpu: float, frames: int) -> dict[str, float]:
    """Throughput and latency, plus CPU seconds per annotation: on a shared machine more threads also win a
    bigger share of the CPUs from other processes, so wall-clock throughput alone overstates the gain."""
    n = len(seconds)
    return {"annotations": n, "wall_s": round(wall, 3), "annotations_per_s": round(n / wall, 4),
            "frames_per_s": round(n * frames / wall, 1), "latency_mean_s": round(statistics.mean(seconds), 3),
            "latency_max_s": round(max(seconds), 3), "cpu_s_per_annotation": round(cpu / n, 3),
            "cpus_used": round(cpu / wall, 2)}


def serve(python: str, app_dir: Path, weights: str, log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` with the hosted settings, as the Dockerfile runs it; returns (process, url)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "HAR_HOSTED": "1", "HAR_WEIGHTS_DIR": weights, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([python, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1"], cwd=app_dir, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(180):
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"streamlit did not start: {log.read_text()[-2000:]}")


def server_phases(python: str, app_dir: Path, weights: str, model: str, video: Path, sessions: int,
                  scratch: Path) -> dict[str, Any]:
    """Server RSS idle, with a model loaded, and peaks while 1 and then `sessions` browsers annotate."""
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ready_to_predict, wait_idle
    from playwright.sync_api import sync_playwright

    proc, url = serve(python, app_dir, weights, scratch / "streamlit.log")
    mib = lambda kib: round(kib / 1024, 1)  # noqa: E731
    out: dict[str, Any] = {"python": python, "app_dir": str(app_dir)}
    try:
        time.sleep(3)
        out["idle_mib"] = mib(rss_kib(proc.pid)[0])
        with sync_playwright() as pw, PeakRSS(proc.pid) as peak:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            def ready() -> Any:
                return ready_to_predict(browser, url, model, video, timeout_ms=120000)

            def run(pages: list[Any]) -> float:
                peak.reset()
                t0 = time.perf_counter()
                for page in pages:
                    page.get_by_role("button", name=re.compile("Recognise the action")).click(no_wait_after=True)
                for page in pages:
                    page.get_by_text("Predicted action").wait_for(timeout=600000)
                    wait_idle(page, timeout_ms=600000)
                return time.perf_counter() - t0

            first = ready()
            out["pages_open_mib"] = mib(rss_kib(proc.pid)[0])
            run([first])  # loads the model and traces it: the first prediction of a fresh server
            out["model_loaded_after_first_annotation_mib"] = mib(rss_kib(proc.pid)[0])
            wall1 = run([first])
            out["peak_1_annotating_mib"] = mib(peak.peak)
            out["wall_1_s"] = round(wall1, 2)
            first.context.close()
            pages = [ready() for _ in range(sessions)]
            wall_n = run(pages)
            out[f"peak_{sessions}_annotating_mib"] = mib(peak.peak)
            out[f"wall_{sessions}_s"] = round(wall_n, 2)
            labels = {p.locator('[data-testid="stMetricValue"]').first.inner_text().strip() for p in pages}
            out["labels"] = sorted(labels)
            browser.close()
        out["hwm_mib"] = mib(rss_kib(proc.pid)[1])
        out["ratios"] = {"throughput": round(sessions * wall1 / wall_n, 2),
                         "peak_memory": round(out[f"peak_{sessions}_annotating_mib"] / out["peak_1_annotating_mib"], 2)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> int:
    from har_core.config import settings

    s = settings()
    p = argparse.ArgumentParser(prog="python -m benchmarks.concurrency", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="lrcn", help="bundle name under the weights folder (default: lrcn)")
    p.add_argument("--weights", default=str(s.weights_dir), help="weights folder (default: HAR_WEIGHTS_DIR)")
    p.add_argument("--video", default=None, help="video to annotate (default: a UCF50 clip, else synthetic)")
    p.add_argument("--sessions", type=int, default=8, help="concurrent sessions in the second phase")
    p.add_argument("--singles", type=int, default=None, help="one-at-a-time annotations (default: --sessions)")
    p.add_argument("--out", default=str(RESULTS), help="where to write the JSON results")
    p.add_argument("--server", action="store_true", help="also measure a real streamlit server driven by Chromium")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs the server (--server)")
    p.add_argument("--app-dir", default=str(ROOT), help="checkout the server runs from (--server)")
    a = p.parse_args(argv)
    a.singles = a.singles or a.sessions
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    from har_core.models.registry import ModelRegistry
    from har_core.prediction.inference import annotate

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="har-concurrency-"))
    video = Path(a.video) if a.video else default_video(s.data_dirs[0], scratch)
    rss_start = rss_kib()[0]
    bundle = ModelRegistry(a.weights).load(a.model)
    counter = iter(range(10**6))

    def one(_: int = 0) -> tuple[float, Any]:
        t = time.perf_counter()
        ann = annotate(bundle, video, scratch / f"out-{next(counter)}.mp4")
        return time.perf_counter() - t, ann

    with PeakRSS() as peak:
        _, reference = one()  # warm-up: traces the model's functions, fills the OS file cache
        rss_loaded = rss_kib()[0]
        frames = reference.frames

        peak.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        single = [one() for _ in range(a.singles)]
        single_wall, single_cpu = time.perf_counter() - t0, time.process_time() - c0
        single_peak = peak.peak

        peak.reset()
        t0, c0 = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(a.sessions) as pool:
            many = list(pool.map(one, range(a.sessions)))
        many_wall, many_cpu = time.perf_counter() - t0, time.process_time() - c0
        many_peak = peak.peak

    def same(ann: Any) -> bool:
        return ann.frames == frames and [w["probs"] for w in ann.timeline] == [w["probs"] for w in reference.timeline]

    mismatched = sum(not same(ann) for _, ann in single + many)
    one_s = summary([sec for sec, _ in single], single_wall, single_cpu, frames)
    many_s = summary([sec for sec, _ in many], many_wall, many_cpu, frames)
    mib = lambda kib: round(kib / 1024, 1)  # noqa: E731
    results = {
        "started": started,
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "device": bundle.predictor.device},
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "model": str(bundle.path), "architecture": bundle.meta.get("architecture"),
        "video": str(video), "video_frames": frames, "sessions": a.sessions,
        "memory_mib": {"before_model": mib(rss_start), "model_loaded_after_warmup": mib(rss_loaded),
                       "peak_1_session": mib(single_peak), f"peak_{a.sessions}_sessions": mib(many_peak)},
        "one_at_a_time": one_s,
        f"{a.sessions}_concurrent": many_s,
        "ratios": {
            "throughput": round(many_s["annotations_per_s"] / one_s["annotations_per_s"], 2),
            "latency_mean": round(many_s["latency_mean_s"] / one_s["latency_mean_s"], 2),
            "cpu_per_annotation": round(many_s["cpu_s_per_annotation"] / one_s["cpu_s_per_annotation"], 2),
            "peak_memory": round(many_peak / single_peak, 2),
        },
        "results_identical_to_single_run": mismatched == 0,
        "label": reference.prediction.label,
    }
    if a.server:
        results["server"] = server_phases(a.python, Path(a.app_dir), a.weights, a.model, video, a.sessions, scratch)
    shutil.rmtree(scratch, ignore_errors=True)
    r = results
    print(f"{r['architecture']} bundle {bundle.name} on {r['machine']['device']}; video {video.name} "
          f"({frames} frames), label {r['label']}")
    print(f"{'':24s}{'1 at a time':>14s}{str(a.sessions) + ' at once':>14s}{'ratio':>8s}")
    rows = [("annotations/s", "annotations_per_s", "throughput"),
            ("mean latency (s)", "latency_mean_s", "latency_mean"),
            ("CPU s per annotation", "cpu_s_per_annotation", "cpu_per_annotation")]
    for title, key, ratio in rows:
        print(f"{title:24s}{one_s[key]:>14}{many_s[key]:>14}{r['ratios'][ratio]:>8}")
    print(f"{'frames/s':24s}{one_s['frames_per_s']:>14}{many_s['frames_per_s']:>14}")
    print(f"{'CPUs busy (of ' + str(os.cpu_count()) + ')':24s}{one_s['cpus_used']:>14}{many_s['cpus_used']:>14}")
    print(f"{'peak RSS (MiB)':24s}{mib(single_peak):>14}{mib(many_peak):>14}{r['ratios']['peak_memory']:>8}")
    print(f"RSS before the model {mib(rss_start)} MiB, with the model loaded and warm {mib(rss_loaded)} MiB; "
          f"every concurrent result identical to the single run: {r['results_identical_to_single_run']}")
    print(f"load average before {r['load_average_before'][0]}, after {r['load_average_after'][0]} "
          f"on {os.cpu_count()} CPUs (shared machine)")
    if a.server:
        sv = r["server"]
        print(f"server ({sv['python']}): RSS idle {sv['idle_mib']} MiB, pages open {sv['pages_open_mib']} MiB, "
              f"one model loaded {sv['model_loaded_after_first_annotation_mib']} MiB; peak while annotating: "
              f"1 session {sv['peak_1_annotating_mib']} MiB ({sv['wall_1_s']} s), {a.sessions} sessions "
              f"{sv[f'peak_{a.sessions}_annotating_mib']} MiB ({sv[f'wall_{a.sessions}_s']} s); "
              f"throughput ratio {sv['ratios']['throughput']}, memory ratio {sv['ratios']['peak_memory']}; "
              f"labels {sv['labels']}")
    Path(a.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {a.out}")
    return 0 if mismatched == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
