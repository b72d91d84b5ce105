"""Example takes recorded from the webcam: a countdown drawn on the video, then a few seconds written to an
H.264 file.

The WebRTC thread calls `process` for every frame; the page arms a take and collects finished ones (or the
reason one failed) from the `finished` queue: the two threads share nothing else (one lock inside).
"""
from __future__ import annotations

import math
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import HarError
from .video import H264Writer

MIN_SECONDS, MAX_SECONDS = 3.0, 10.0
START_TIMEOUT_S = 8.0  # armed this long with no camera frame: the recording never started


@dataclass(frozen=True)
class Take:
    path: Path
    tag: Any  # whose take it is (the page's activity id)
    seconds: float
    frames: int


@dataclass
class _Armed:
    tag: Any
    path: Path
    seconds: float
    countdown: float
    armed_at: float
    first_t: float | None = None
    countdown_frames: int = 0
    writer: H264Writer | None = None


class TakeRecorder:
    """One browser session's recorder: `arm` a take, `process` every frame, read `finished`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: _Armed | None = None
        self.finished: queue.Queue[Take | str] = queue.Queue()

    def arm(self, tag: Any, path: Path, seconds: float, countdown: float = 3.0) -> None:
        """Record the next `seconds` after a `countdown` into `path` (an .mp4), for `tag`."""
        if not MIN_SECONDS <= seconds <= MAX_SECONDS:
            raise HarError(f"a take lasts {MIN_SECONDS:.0f} to {MAX_SECONDS:.0f} s")
        with self._lock:
            if self._armed is not None:
                raise HarError("a take is being recorded: wait for it to finish")
            self._armed = _Armed(tag, Path(path), seconds, countdown, time.monotonic())

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._armed is not None

    def check_started(self) -> None:
        """From the page: give up on a take whose countdown never began (no camera frames), saying why."""
        with self._lock:
            armed = self._armed
            if armed is None or armed.first_t is not None or time.monotonic() - armed.armed_at < START_TIMEOUT_S:
                return
            self._armed = None
        self.finished.put("the recording did not start: no frames came from the camera. Press START under the "
                          "video, allow the camera, then record again")

    def cancel(self) -> None:
        with self._lock:
            armed, self._armed = self._armed, None
        if armed is not None and armed.writer is not None:
            armed.writer.abort()

    def process(self, bgr: np.ndarray, t: float | None) -> np.ndarray:
        """WebRTC thread: pass a frame through, drawing the countdown or REC, and record it when it is time."""
        t = time.monotonic() if t is None else t
        with self._lock:
            armed = self._armed
            if armed is None:
                return bgr
            if armed.first_t is None:
                armed.first_t = t
            elapsed = t - armed.first_t
            if elapsed < armed.countdown:
                armed.countdown_frames += 1
                return _big_text(bgr, str(math.ceil(armed.countdown - elapsed)))
            try:
                if armed.writer is None:
                    fps = armed.countdown_frames / armed.countdown if armed.countdown_frames else 15.0
                    armed.writer = H264Writer(armed.path, max(1.0, round(fps)), bgr.shape[1], bgr.shape[0])
                armed.writer.write(bgr)
                if elapsed < armed.countdown + armed.seconds:
                    return _rec(bgr, elapsed - armed.countdown)
                armed.writer.close()
            except Exception as exc:  # a failed encoder must not take the video down with it
                if armed.writer is not None:
                    armed.writer.abort()
                self._armed = None
                self.finished.put(f"the take could not be saved ({exc.__class__.__name__}: {exc})")
                return bgr
            self._armed = None
            self.finished.put(Take(armed.path, armed.tag, armed.seconds, armed.writer.frames))
            return bgr


def _big_text(bgr: np.ndarray, text: str) -> np.ndarray:
    out = (bgr * 0.6).astype(np.uint8)
    h, w = out.shape[:2]
    scale = h / 120
    thick = max(2, round(scale * 3))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.putText(out, text, ((w - tw) // 2, (h + th) // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    return out


def _rec(bgr: np.ndarray, seconds: float) -> np.ndarray:
    out = bgr.copy()
    r = max(4, out.shape[0] // 40)
    cv2.circle(out, (2 * r, 2 * r), r, (0, 0, 255), -1, cv2.LINE_AA)
    cv2.putText(out, f"REC {seconds:.1f} s", (4 * r, 2 * r + r // 2), cv2.FONT_HERSHEY_SIMPLEX, r / 10,
                (0, 0, 255), max(1, r // 4), cv2.LINE_AA)
    return out
