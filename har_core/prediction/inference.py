"""Prediction: classify a whole video, annotate a video, and classify a live stream.

All three use the bundle's `ClipSampler` (sampling.py): a window is its frames spread over `window_seconds`
(the span a training clip covers), never consecutive frames, and labels over time are smoothed by it. No
per-frame `model.predict`: windows are batched, and the bundle's predictor encodes each frame once where the
model reads frames one by one (LRCN, the ImageNet backbones).
"""
from __future__ import annotations

import collections
import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import HarError
from ..media.overlay import draw_label
from ..media.sampling import ClipSampler
from ..media.video import MIN_FRAMES, H264Writer, iter_every, iter_frames, read_header, sample_clip, to_model_frame
from ..models.bundle import ModelBundle

Progress = Callable[[float, str], None]  # (fraction 0..1, what is happening)


NO_KNOWN_ACTIVITY = "no known activity"


@dataclass(frozen=True)
class Prediction:
    """`label` is always the best known class; `known` says whether the clip shows a known class at all
    (False when an open-set model's score is under its threshold)."""

    label: str
    confidence: float
    top_k: list[tuple[str, float]]
    probs: list[float]
    known: bool = True

    @property
    def shown(self) -> str:
        """What to tell a person: the label, or 'no known activity'."""
        return self.label if self.known else NO_KNOWN_ACTIVITY

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "known": self.known, "confidence": self.confidence,
                "top_k": [{"label": l, "p": p} for l, p in self.top_k]}


def to_prediction(probs: np.ndarray, classes: list[str], k: int = 3, threshold: float | None = None) -> Prediction:
    """Top-k over the known classes; an extra 'other' output (open-set models) is never a label."""
    probs = np.asarray(probs)[: len(classes)]
    order = np.argsort(probs)[::-1][: max(1, min(k, len(classes)))]
    best = float(probs[order[0]])
    return Prediction(classes[int(order[0])], best, [(classes[int(i)], float(probs[i])) for i in order],
                      [float(p) for p in probs], known=threshold is None or best >= threshold)


def draw_prediction(bgr: np.ndarray, pred: Prediction) -> np.ndarray:
    """The label band on a frame: the label, or 'no known activity' with the best guess beside it."""
    return draw_label(bgr, pred.shown, pred.confidence, "" if pred.known else f"(best guess {pred.label})")


def inference_device() -> str:
    """Where predictions run, e.g. 'CPU (tensorflow)' or 'GPU: NVIDIA H100 (jax)'."""
    from ..quiet import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_logical_devices("GPU")
            names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                     for g in tf.config.list_physical_devices("GPU")]
            if gpus:
                return f"GPU: {names[0] if names else gpus[0].name} ({backend})"
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform == "gpu":
                return f"GPU: {dev.device_kind} ({backend})"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)} ({backend})"
    except Exception:  # device discovery must never break prediction
        pass
    return f"CPU ({backend})"


def classify(bundle: ModelBundle, video: str | os.PathLike, top_k: int = 3) -> tuple[Prediction, dict[str, Any]]:
    """The paper's predict_single_action: one clip sampled over the whole video, one prediction.

    Returns the prediction and facts about the input (frames decoded, whether frames were repeated).
    """
    clip = sample_clip(video, bundle.sampler)
    probs = bundle.predictor.clips(clip.frames[None])[0]
    facts = {"frames": clip.source_frames, "claimed_frames": clip.claimed_frames, "short": clip.short,
             "truncated": clip.truncated}
    return to_prediction(probs, bundle.classes, top_k, bundle.threshold), facts


def window_probs(bundle: ModelBundle, frames: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Probabilities of every sliding window over a stream of sampled frames (window k ends at frame k)."""
    members = [bundle.sampler.window_members(k) for k in range(len(frames))]
    predictor = bundle.predictor
    if predictor.per_frame:  # each sampled frame encoded once, however many windows it is in
        feats = predictor.encode(frames)
        return np.concatenate([predictor.head(np.stack([feats[m] for m in members[i:i + batch_size]]))
                               for i in range(0, len(members), batch_size)])
    return np.concatenate([predictor.clips(np.stack([frames[m] for m in members[i:i + batch_size]]))
                           for i in range(0, len(members), batch_size)])


@dataclass
class Annotation:
    out_path: Path
    frames: int
    fps: float
    seconds: float
    step: int
    timeline: list[dict[str, Any]]
    prediction: Prediction
    device: str

    def as_dict(self) -> dict[str, Any]:
        return {"out": str(self.out_path), "frames": self.frames, "fps": self.fps, "seconds": self.seconds,
                "step": self.step, "device": self.device, **self.prediction.as_dict(), "timeline": self.timeline}


def annotate(
    bundle: ModelBundle,
    video: str | os.PathLike,
    out_path: str | os.PathLike,
    smooth: int | None = None,
    progress: Progress | None = None,
    max_seconds: float | None = None,
) -> Annotation:
    """The paper's predict_on_video, fixed: sliding windows with training's sampling, smoothed, drawn on
    every frame, written as H.264 at the source size and fps; plus a per-window probability timeline.

    Pass 1 decodes every frame but converts only every `step`-th (the window's sampling rate); windows
    are scored in batches. Pass 2 decodes again and draws, so full-size frames are never all in memory.
    """
    report = progress or (lambda f, s: None)
    head = read_header(video)
    fps, claimed = head.fps, max(1, head.frames)
    sampler = bundle.sampler if smooth is None else replace(bundle.sampler, smooth=smooth)
    step = sampler.window_step(fps)
    sampled: list[np.ndarray] = []
    n = 0
    report(0.0, "reading frames")
    for n, frame in iter_every(video, step, sampler):
        if frame is not None:
            sampled.append(frame)
        if max_seconds is not None and n / fps > max_seconds:
            raise HarError(f"the video is longer than the {max_seconds:.0f} s allowed")
        if n % 250 == 0:
            report(min(0.3, 0.3 * n / claimed), "reading frames")
    total = n + 1 if sampled else 0
    if total < MIN_FRAMES:
        raise HarError(f"{Path(video).name} has {total} decodable frame(s); need at least {MIN_FRAMES}")
    report(0.3, "classifying windows")
    probs = window_probs(bundle, np.stack(sampled))
    smoothed = sampler.smoothed(probs)
    classes = bundle.classes
    windows = [to_prediction(p, classes, 1, bundle.threshold) for p in smoothed]
    timeline = [{"time": round(k * step / fps, 3), "frame": k * step, "label": w.label, "known": w.known,
                 "probs": {c: round(float(v), 4) for c, v in zip(classes, p)}}
                for k, (p, w) in enumerate(zip(smoothed, windows))]
    report(0.4, "drawing and encoding H.264")
    out = Path(out_path)
    written = 0
    with H264Writer(out, fps, head.width, head.height) as writer:
        for t, bgr in enumerate(iter_frames(video)):
            if t >= total:
                break
            writer.write(draw_prediction(bgr, windows[min(t // step, len(windows) - 1)]))
            written += 1
            if t % 100 == 0:
                report(0.4 + 0.6 * t / total, "drawing and encoding H.264")
    report(1.0, "done")
    overall = to_prediction(probs.mean(axis=0), classes, threshold=bundle.threshold)
    return Annotation(out, written, fps, round(written / fps, 3), step, timeline, overall, inference_device())


@dataclass
class StreamState:
    """What the stream classifier last concluded, for the UI thread to read."""

    prediction: Prediction | None = None
    frames_in: int = 0
    predictions: int = 0
    latency_ms: float = 0.0
    error: str | None = None


class StreamClassifier:
    """Live classification: a ring buffer sampled like training, scored on its own thread at `rate_hz`.

    `push` (called from a video callback) only keeps every step-th frame by timestamp and returns at
    once; the worker thread predicts on the latest window and publishes a StreamState. Thread-safe.
    A worker that has had no frame for `idle_stop_s` ends by itself and lets go of its frames: a browser tab
    closed mid-stream never says so, and its thread would otherwise live until the server restarts.
    `clock` measures that silence (tests pass one they advance by hand).
    """

    def __init__(self, bundle: ModelBundle, rate_hz: float = 4.0, top_k: int = 3, idle_stop_s: float = 30.0,
                 sampler: ClipSampler | None = None, clock: Callable[[], float] = time.monotonic):
        self.bundle, self.rate_hz, self.top_k = bundle, rate_hz, top_k
        self.sampler = sampler or bundle.sampler
        self.interval = self.sampler.frame_interval
        # (number, frame) of the kept frames; features by frame number, for per-frame encoders
        self._frames: collections.deque[tuple[int, np.ndarray]] = collections.deque(maxlen=self.sampler.frames)
        self._features: dict[int, np.ndarray] = {}
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, self.sampler.smooth))
        self._next_keep: float | None = None
        self._version = 0
        self._scored = -1
        self._lock = threading.Lock()
        self._state = StreamState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.idle_stop_s = idle_stop_s
        self._clock = clock
        self._last_push = clock()

    def push(self, bgr: np.ndarray, timestamp: float) -> bool:
        """Offer a frame taken at `timestamp` seconds; returns True when it was kept for the window."""
        with self._lock:
            self._state.frames_in += 1
            self._last_push = self._clock()
            if self._next_keep is not None and timestamp < self._next_keep - 1e-6:
                return False
            self._next_keep = timestamp + self.interval if self._next_keep is None else max(
                self._next_keep + self.interval, timestamp)
        frame = to_model_frame(bgr, self.sampler)
        with self._lock:
            self._version += 1
            self._frames.append((self._version, frame))
        return True

    def predict_now(self) -> Prediction | None:
        """Score the current window at once (the worker calls this; tests may too)."""
        with self._lock:
            frames, version = list(self._frames), self._version
        if not frames:
            return None
        idx = self.sampler.window_members(len(frames) - 1)
        start = time.perf_counter()
        predictor = self.bundle.predictor
        if not predictor.per_frame:
            probs = predictor.clips(np.stack([f for _, f in frames])[idx][None])[0]
        else:  # encode only the frames that arrived since the last prediction
            new = [(n, f) for n, f in frames if n not in self._features]
            if new:
                feats = predictor.encode(np.stack([f for _, f in new]))
                self._features.update({n: v for (n, _), v in zip(new, feats)})
            self._features = {n: self._features[n] for n, _ in frames}
            window = np.stack([self._features[frames[i][0]] for i in idx])
            probs = predictor.head(window[None])[0]
        latency = (time.perf_counter() - start) * 1000
        with self._lock:
            self._recent.append(probs)
            pred = to_prediction(np.mean(self._recent, axis=0), self.bundle.classes, self.top_k,
                                 self.bundle.threshold)
            s = self._state
            s.prediction, s.predictions, s.latency_ms = pred, s.predictions + 1, latency
            self._scored = version
        return pred

    def state(self) -> StreamState:
        with self._lock:
            s = self._state
            return replace(s)

    def _run(self) -> None:
        while not self._stop.wait(1.0 / self.rate_hz):
            with self._lock:
                fresh = self._version != self._scored and self._frames
                idle = self._clock() - self._last_push > self.idle_stop_s
            if idle:
                self._stop.set()
                self._release()
                return
            if fresh:
                try:
                    self.predict_now()
                except Exception as exc:  # surface to the UI instead of dying silently
                    with self._lock:
                        self._state.error = f"{exc.__class__.__name__}: {exc}"

    def start(self) -> "StreamClassifier":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="har-stream", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """End the worker and let go of the frames and features (the counters stay for the page to show)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._release()

    def _release(self) -> None:
        with self._lock:
            self._frames.clear()
            self._features = {}

    @property
    def alive(self) -> bool:
        """Whether the worker thread still runs (it ends on `stop` or after `idle_stop_s` without frames)."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "StreamClassifier":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
