"""The pretrained model on whatever device Keras sees: train a head, annotate a long video, a webcam stream.

`python -m benchmarks.device [--model DIR] [--seconds 30] [--json OUT]` prints the device it ran on, by name
(the GPU's model, or the CPU's model and cores, and a GPU that is there but unused, with why), and timings; it
needs no dataset (the video and the training clips are synthesised), so it runs as it is on a lent GPU
machine (under 5 minutes there) and on a CPU for comparison. TensorFlow uses an NVIDIA GPU only when installed
from requirements-gpu.txt (requirements.txt's tensorflow-cpu never does). With KERAS_BACKEND=torch or jax it
uses that backend's GPU; the bundle was saved with TensorFlow.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # a folder per GPU the NVIDIA driver sees, each with 'information'


def _field(text: str, name: str) -> str | None:
    """The value of the first 'name: value' line of `text` (/proc's format)."""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.split(":", 1)[0].strip() == name), None)


def hardware(nvidia_gpus: Path = NVIDIA_GPUS, cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The machine under the run, named whatever the backend uses: the CPU's model and cores, every GPU the
    NVIDIA driver lists, and the TensorFlow distributions installed (tensorflow-cpu never uses a GPU)."""
    cpu = (_field(cpuinfo.read_text(), "model name") if cpuinfo.is_file() else None) or platform.processor()
    gpus = [_field(info.read_text(), "Model") or "NVIDIA GPU" for info in sorted(nvidia_gpus.glob("*/information"))]
    tensorflow = {}
    for dist in ("tensorflow", "tensorflow-cpu"):
        try:
            tensorflow[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu or platform.machine(), "cores": os.cpu_count(), "gpus": gpus, "tensorflow": tensorflow}


def ran_on(device: str, backend: str, machine: dict[str, Any]) -> str:
    """What the timings were measured on, in one line: `device` (the predictor's) when it is a GPU, else the
    CPU by name, and any GPU left unused with the likely reason; `backend` is the Keras backend, or "litert"."""
    if device.startswith("GPU"):
        return device
    line = f"CPU: {machine['cpu']}, {machine['cores']} cores ({backend})"
    if machine["gpus"]:
        if backend == "litert":
            why = "HAR_RUNTIME=litert keeps prediction on the CPU; Keras uses the GPU"
        elif backend == "tensorflow" and "tensorflow" not in machine["tensorflow"]:
            why = "tensorflow-cpu never uses a GPU; install requirements-gpu.txt"
        else:
            why = f"{backend} found no usable GPU: check its CUDA build, libraries and the driver"
        line += f"; not used: {', '.join(machine['gpus'])} ({why})"
    return line


def synth_video(path: Path, seconds: float, fps: float = 30.0, size: tuple[int, int] = (640, 360)) -> Path:
    """A moving, textured scene (MJPG AVI): decoding and resizing cost what a real 640×360 video costs."""
    w, h = size
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8), (w, h))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for t in range(int(seconds * fps)):
        frame = np.roll(base, 3 * t, axis=1)
        cv2.circle(frame, (int(w / 2 + w / 3 * np.sin(t / 15)), h // 2), 30, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def bench_train_head(bundle: Any, clips: int = 120) -> dict[str, Any]:
    """Encode `clips` synthetic clips with the bundle's backbone, then fit both head kinds on the features."""
    import keras

    from har_core.learning.linear import balanced_weights
    from har_core.learning.training import fit_linear_head
    from har_core.models.builders import build_sequence_head

    length, size = bundle.sampler.frames, bundle.sampler.image_size
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (clips * length, size, size, 3), dtype=np.uint8)
    bundle.predictor.encode(frames[:64])  # build the graph once
    start = time.perf_counter()
    feats = bundle.predictor.encode(frames).reshape(clips, length, -1)
    encode_s = time.perf_counter() - start
    y = np.arange(clips) % 4
    start = time.perf_counter()
    fit_linear_head(build_sequence_head(4, "mean", length, feats.shape[-1]), feats, y, feats[:20], y[:20], 0.1,
                    balanced_weights(y, 4), None)
    linear_s = time.perf_counter() - start
    lstm = build_sequence_head(4, "lstm", length, feats.shape[-1])
    lstm.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    lstm.fit(feats, y, batch_size=32, epochs=30, verbose=0)
    lstm_s = time.perf_counter() - start
    keras.backend.clear_session(free_memory=False)
    return {"clips": clips, "frames": clips * length, "encode_s": round(encode_s, 3),
            "encode_ms_per_frame": round(1000 * encode_s / (clips * length), 3),
            "linear_head_fit_s": round(linear_s, 3), "lstm_head_30_epochs_s": round(lstm_s, 3)}


def bench_annotate(bundle: Any, video: Path, out: Path) -> dict[str, Any]:
    from har_core.prediction.inference import annotate

    start = time.perf_counter()
    ann = annotate(bundle, video, out)
    wall = time.perf_counter() - start
    return {"frames": ann.frames, "video_s": ann.seconds, "wall_s": round(wall, 3),
            "frames_per_s": round(ann.frames / wall, 1), "windows": len(ann.timeline),
            "realtime_factor": round(ann.seconds / wall, 1)}


def bench_stream(bundle: Any, video: Path, fps: float = 30.0) -> dict[str, Any]:
    """Frames pushed at the video's pace as a webcam callback would; callback cost, prediction latency,
    and how long after the first frame the first label appears."""
    from har_core.prediction.inference import StreamClassifier

    bundle.predictor.warm_up()
    cap = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < int(10 * fps):
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    push_ms, latencies = [], []
    first_label = None
    with StreamClassifier(bundle, rate_hz=4.0) as clf:
        start = time.perf_counter()
        for i, frame in enumerate(frames):
            due = start + i / fps
            time.sleep(max(0.0, due - time.perf_counter()))
            t0 = time.perf_counter()
            clf.push(frame, i / fps)
            push_ms.append(1000 * (time.perf_counter() - t0))
            state = clf.state()
            if state.prediction is not None:
                first_label = first_label or time.perf_counter() - start
                latencies.append(state.latency_ms)
        predictions = clf.state().predictions
    return {"frames": len(frames), "callback_p50_ms": round(percentile(push_ms, 50), 3),
            "callback_p95_ms": round(percentile(push_ms, 95), 3),
            "prediction_latency_p50_ms": round(percentile(latencies, 50), 2),
            "prediction_latency_p95_ms": round(percentile(latencies, 95), 2),
            "first_label_s": None if first_label is None else round(first_label, 3), "predictions": predictions}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.device", description=__doc__)
    p.add_argument("--model", default=None, help="bundle folder (default: the default model)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the annotated video")
    p.add_argument("--clips", type=int, default=120, help="synthetic clips encoded to train the heads")
    p.add_argument("--json", default=None, help="also write the result here")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    from har_core.models.bundle import load_bundle
    from har_core.models.registry import default_model_dir
    from har_core.quiet import keras

    bundle = load_bundle(a.model or default_model_dir())
    load_s = time.perf_counter() - t0
    device, machine = bundle.predictor.device, hardware()
    engine = "litert" if bundle.predictor.runtime == "litert" else keras.backend.backend()
    result: dict[str, Any] = {"device": device, "ran_on": ran_on(device, engine, machine),
                              "hardware": machine, "model": bundle.name, "load_s": round(load_s, 2)}
    print(f"ran on: {result['ran_on']}; model {bundle.name} loaded in {load_s:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        video = synth_video(Path(tmp) / "long.avi", a.seconds)
        result["train_head"] = bench_train_head(bundle, a.clips)
        print("train head:", result["train_head"], flush=True)
        bench_annotate(bundle, synth_video(Path(tmp) / "warm.avi", 2.0), Path(tmp) / "warm.mp4")
        result["annotate"] = bench_annotate(bundle, video, Path(tmp) / "out.mp4")
        print("annotate:", result["annotate"], flush=True)
        result["stream"] = bench_stream(bundle, video)
        print("stream:", result["stream"], flush=True)
    result["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
