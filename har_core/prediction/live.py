"""The webcam's frame path: feed the StreamClassifier, draw its latest result, measure throughput.

A `LiveAnnotator` lives in one browser session; the WebRTC thread calls `process` for every frame and
the page reads `stats` from a fragment. All shared state is behind one lock; the classifier predicts on
its own thread, so `process` stays cheap (resize + draw).
"""
from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..config import Settings
from ..errors import HarError
from ..models.bundle import ModelBundle
from ..pose.skeleton import draw_skeleton
from .inference import Prediction, StreamClassifier, draw_prediction

# Local use (browser and server on one machine or LAN) needs no ICE server: host candidates connect at
# once, and an unreachable STUN server would only delay gathering. Hosted, the browser is elsewhere:
# a public STUN server finds the public address; many networks also need TURN (set HAR_ICE_SERVERS).
LOCAL_ICE: list[dict] = []
HOSTED_ICE: list[dict] = [{"urls": ["stun:stun.l.google.com:19302"]}]


def ice_servers(cfg: Settings) -> list[dict]:
    """ICE servers for WebRTC: HAR_ICE_SERVERS (a JSON list) when set, else the local/hosted default."""
    raw = cfg.ice_servers_json.strip()
    if not raw:
        return HOSTED_ICE if cfg.hosted else LOCAL_ICE
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError:
        raise HarError("HAR_ICE_SERVERS is not valid JSON: expected a list like "
                       '[{"urls": ["turn:host:3478"], "username": "u", "credential": "p"}]') from None
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        raise HarError("HAR_ICE_SERVERS must be a JSON list of objects, each with 'urls'")
    return servers


def frame_callback(process: Callable[[np.ndarray, float | None], np.ndarray]) -> Callable[[Any], Any]:
    """A streamlit-webrtc `video_frame_callback` that runs `process(bgr, seconds)` on every frame and returns
    its picture with the frame's timing. It runs on WebRTC's thread: `process` must not call st.*."""
    import av

    def on_frame(frame: av.VideoFrame) -> av.VideoFrame:
        out = process(frame.to_ndarray(format="bgr24"), float(frame.time) if frame.time is not None else None)
        new = av.VideoFrame.from_ndarray(out, format="bgr24")
        new.pts, new.time_base = frame.pts, frame.time_base
        return new

    return on_frame


@dataclass(frozen=True)
class LiveStats:
    model: str | None
    frames_in: int
    fps: float
    predictions: int
    latency_ms: float
    prediction: Prediction | None
    error: str | None
    seconds_since_frame: float | None
    device: str = ""


class LiveAnnotator:
    """One session's live classification: `use(bundle)` to (re)start, `process` per frame, `stop` to end.

    `clock` times the frames (for fps) and its classifiers' silence (tests pass one they advance by hand).
    """

    def __init__(self, window_s: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.skeleton = False  # draw a body-pose model's keypoints too (the page's toggle; read per frame)
        self._lock = threading.Lock()
        self._classifier: StreamClassifier | None = None
        self._times: collections.deque[float] = collections.deque(maxlen=256)
        self._window_s = window_s
        self._clock = clock
        self._last_frame: float | None = None
        self._running = False

    def use(self, bundle: ModelBundle) -> None:
        """Classify with `bundle` from now on; starts the worker thread unless it already runs it.

        A new model is warmed up here (its first prediction builds the graph, seconds on a busy CPU), so
        the live stream's first label is not delayed by it.
        """
        with self._lock:
            if self._classifier is not None and self._classifier.bundle is bundle and self._running:
                return
        bundle.predictor.warm_up()
        with self._lock:
            old = self._classifier
            self._classifier = StreamClassifier(bundle, clock=self._clock).start()
            self._running = True
        if old is not None:
            old.stop()

    def stop(self) -> None:
        """Stop predicting (the stream ended); counters are kept for the page to show."""
        with self._lock:
            clf, self._running = self._classifier, False
        if clf is not None:
            clf.stop()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    def process(self, bgr: np.ndarray, timestamp: float | None = None) -> np.ndarray:
        """Called from the video thread: push the frame, draw the latest label; returns the frame."""
        now = self._clock()
        with self._lock:
            clf = self._classifier
            self._times.append(now)
            self._last_frame = now
            if clf is not None and self._running and not clf.alive:  # frames again after an idle stop
                clf = self._classifier = StreamClassifier(clf.bundle, clock=self._clock).start()
        if clf is None:
            return bgr
        clf.push(bgr, now if timestamp is None else timestamp)
        state = clf.state()
        if self.skeleton and state.keypoints is not None:
            draw_skeleton(bgr, state.keypoints, bgr.shape[1] / state.keypoints_width)
        if state.prediction is not None:
            draw_prediction(bgr, state.prediction)
        return bgr

    def stats(self) -> LiveStats:
        now = self._clock()
        with self._lock:
            clf = self._classifier
            recent = [t for t in self._times if now - t <= self._window_s]
            last = self._last_frame
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
        state = clf.state() if clf is not None else None
        return LiveStats(
            model=clf.bundle.name if clf is not None else None,
            frames_in=state.frames_in if state else 0,
            fps=fps,
            predictions=state.predictions if state else 0,
            latency_ms=state.latency_ms if state else 0.0,
            prediction=state.prediction if state else None,
            error=state.error if state else None,
            seconds_since_frame=None if last is None else now - last,
            device=clf.bundle.predictor.device if clf is not None else "",
        )
