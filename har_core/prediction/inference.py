"""Prediction: classify a whole video, annotate a video, and classify a live stream.

All three use the bundle's `ClipSampler` (sampling.py): a window is its frames spread over `window_seconds`
(the span a training clip covers), never consecutive frames, and labels over time are smoothed by it. No
per-frame `model.predict`: windows are batched, and the bundle's predictor encodes each frame once where the
model reads frames one by one (LRCN, the ImageNet backbones).
"""
from __future__ import annotations

import collections
import contextlib
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
from ..media.video import MIN_FRAMES, H264Writer, iter_frames, read_header, sample_clip, to_model_frame
from ..models.bundle import ModelBundle
from ..pose.skeleton import draw_skeleton

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


def classify(bundle: ModelBundle, video: str | os.PathLike, top_k: int = 3) -> tuple[Prediction, dict[str, Any]]:
    """The paper's predict_single_action: one clip sampled over the whole video, one prediction.

    Returns the prediction and facts about the input (frames decoded, whether frames were repeated, and for a
    body-pose model in how many of the sampled frames a person was found).
    """
    clip = sample_clip(video, bundle.sampler)
    facts = {"frames": clip.source_frames, "claimed_frames": clip.claimed_frames, "short": clip.short,
             "truncated": clip.truncated}
    if bundle.reads_pose:
        keypoints = bundle.predictor.encode(clip.frames)
        probs = bundle.predictor.head(keypoints[None])[0]
        facts.update(person_frames=int((keypoints[:, -1] >= 0.5).sum()), sampled_frames=len(keypoints))
    else:
        probs = bundle.predictor.clips(clip.frames[None])[0]
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
    out_path: Path | None  # None: the label track only, no video written
    frames: int
    fps: float
    seconds: float
    step: int
    timeline: list[dict[str, Any]]
    prediction: Prediction
    device: str
    full_windows: int = 0  # windows the headline `prediction` averages; 0: the video is shorter than one window
    person_windows: int | None = None  # body-pose models: windows whose newest frame had a person in view

    def as_dict(self) -> dict[str, Any]:
        return {"out": None if self.out_path is None else str(self.out_path), "frames": self.frames, "fps": self.fps,
                "seconds": self.seconds, "step": self.step, "device": self.device, "full_windows": self.full_windows,
                **self.prediction.as_dict(), "timeline": self.timeline,
                **({} if self.person_windows is None else {"person_windows": self.person_windows})}


class WindowScorer:
    """Sliding windows scored one by one as their last sampled frame arrives (annotate's single pass): each
    sampled frame is encoded once, and only the last `frames` of them are kept (`latest`: the newest one's
    features, a body-pose model's keypoints)."""

    def __init__(self, bundle: ModelBundle, sampler: ClipSampler):
        self.predictor, self.sampler = bundle.predictor, sampler
        self._items: collections.deque[np.ndarray] = collections.deque(maxlen=sampler.frames)
        self._k = -1
        self._state: dict = {}  # a sequential encoder's (body pose: where the person was)

    def add(self, frame: np.ndarray) -> np.ndarray:
        """Probabilities of the window that ends at this sampled model frame (window_probs' window k)."""
        self._k += 1
        per_frame = self.predictor.per_frame
        self._items.append(self.predictor.encode(frame[None], self._state)[0] if per_frame else frame)
        self.latest = self._items[-1]
        offset = self._k + 1 - len(self._items)
        window = np.stack([self._items[i - offset] for i in self.sampler.window_members(self._k)])[None]
        return (self.predictor.head(window) if per_frame else self.predictor.clips(window))[0]


def annotate(
    bundle: ModelBundle,
    video: str | os.PathLike,
    out_path: str | os.PathLike | None,
    smooth: int | None = None,
    progress: Progress | None = None,
    max_seconds: float | None = None,
    skeleton: bool = False,
) -> Annotation:
    """The paper's predict_on_video, fixed: sliding windows with training's sampling, smoothed, drawn on
    every frame, written as H.264 at the source size and fps; plus a per-window probability timeline.

    One decoding pass: frame t shows the smoothed label of window t // step, which closes at sampled frame
    (t // step) * step <= t, so each frame is labelled and written as soon as it is read, and full-size frames
    are never kept. The whole video's answer averages the windows that span a training clip's seconds (the first
    few repeat the little they have seen); a video shorter than that is one window over all of it. The output
    appears whole or not at all; with no `out_path` none is written (the label track alone: the same timeline,
    nothing drawn or encoded). `skeleton` (body-pose models) draws the keypoints of the latest sampled frame too.
    """
    report = progress or (lambda f, s: None)
    head = read_header(video)
    fps, claimed = head.fps, max(1, head.frames)
    sampler = bundle.sampler if smooth is None else replace(bundle.sampler, smooth=smooth)
    step = sampler.window_step(fps)
    scorer, classes = WindowScorer(bundle, sampler), bundle.classes
    recent: collections.deque[np.ndarray] = collections.deque(maxlen=max(1, sampler.smooth))
    timeline: list[dict[str, Any]] = []
    total, full = np.zeros(bundle.outputs, dtype="float64"), 0  # over the windows that span their full length
    window: Prediction | None = None
    out, n, people = None if out_path is None else Path(out_path), 0, 0
    report(0.0, "reading, classifying and writing frames")
    with (H264Writer(out, fps, head.width, head.height) if out else contextlib.nullcontext()) as writer:
        for t, bgr in enumerate(iter_frames(video)):
            if max_seconds is not None and t / fps > max_seconds:
                raise HarError(f"the video is longer than the {max_seconds:.0f} s allowed")
            if t % step == 0:
                model_frame = to_model_frame(bgr, sampler)
                probs = scorer.add(model_frame)
                scale = bgr.shape[1] / model_frame.shape[1]
                people += bool(bundle.reads_pose and scorer.latest[-1] >= 0.5)
                recent.append(probs)
                if t // step >= sampler.frames - 1:
                    total, full = total + probs, full + 1
                smoothed = np.mean(recent, axis=0)
                window = to_prediction(smoothed, classes, 1, bundle.threshold)
                timeline.append({"time": round(t / fps, 3), "frame": t, "label": window.label, "known": window.known,
                                 "probs": {c: round(float(v), 4) for c, v in zip(classes, smoothed)}})
            if writer is not None:
                if skeleton and bundle.reads_pose:
                    draw_skeleton(bgr, scorer.latest, scale)
                writer.write(draw_prediction(bgr, window))
            n = t + 1
            if t % 100 == 0:
                report(min(0.99, t / claimed), "reading, classifying and writing frames")
        if n < MIN_FRAMES:
            raise HarError(f"{Path(video).name} has {n} decodable frame(s); need at least {MIN_FRAMES}")
    report(1.0, "done")
    overall = to_prediction(total / full if full else probs, classes, threshold=bundle.threshold)
    return Annotation(out, n, fps, round(n / fps, 3), step, timeline, overall, bundle.predictor.device, full,
                      people if bundle.reads_pose else None)


@dataclass
class StreamState:
    """What the stream classifier last concluded, for the UI thread to read."""

    prediction: Prediction | None = None
    frames_in: int = 0
    predictions: int = 0
    latency_ms: float = 0.0
    error: str | None = None
    keypoints: np.ndarray | None = None  # a body-pose model's: the newest kept frame's, in its pixels
    keypoints_width: int = 0  # the width of the frame they were found in


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
        self._encoder_state: dict = {}  # a sequential encoder's (body pose: where the person was)
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
                feats = predictor.encode(np.stack([f for _, f in new]), self._encoder_state)
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
            if self.bundle.reads_pose:
                s.keypoints, s.keypoints_width = self._features[frames[-1][0]], frames[-1][1].shape[1]
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
            self._encoder_state = {}

    @property
    def alive(self) -> bool:
        """Whether the worker thread still runs (it ends on `stop` or after `idle_stop_s` without frames)."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "StreamClassifier":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
