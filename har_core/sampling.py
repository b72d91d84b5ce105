"""The one rule for which frames form a clip, shared by training, prediction and the webcam.

A clip is `length` frames spread evenly over a span of `n` frames: frame i is taken from the middle of
the i-th of `length` equal slices, `start + floor((i + 0.5) * n / length)`. When the span holds fewer
than `length` frames the same formula repeats frames (each is used about length/n times); callers
report such clips as short instead of dropping them.
"""
from __future__ import annotations

import numpy as np


def span_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Indices of `length` evenly spaced frames in [start, stop)."""
    n = stop - start
    if n <= 0:
        raise ValueError(f"empty span [{start}, {stop})")
    if length <= 0:
        raise ValueError("length must be positive")
    return start + np.floor((np.arange(length) + 0.5) * n / length).astype(np.int64)


def window_step(window_seconds: float, fps: float, length: int) -> int:
    """Frames between two sampled frames of a sliding window spanning `window_seconds` at `fps`."""
    return max(1, int(round(window_seconds * fps / length)))


def window_members(k: int, length: int) -> np.ndarray:
    """Which sampled frames (0..k) form window k of a stream sampled every `step` frames.

    Once `length` sampled frames exist the window is the last `length` of them; before that it is the
    clip rule over what exists, so early windows repeat frames exactly as short clips do.
    """
    if k + 1 >= length:
        return np.arange(k + 1 - length, k + 1)
    return span_indices(0, k + 1, length)
