"""The one sampler: which frames form a model's input, for a whole clip, a sliding window over a video and the
live webcam window, timed in seconds (after PyTorchVideo's ClipSampler).

A clip is `frames` frames spread evenly over a span of `n` frames: frame i is taken from the middle of the
i-th of `frames` equal slices, `start + floor((i + 0.5) * n / frames)`. When the span holds fewer than `frames`
frames the same formula repeats frames (each is used about frames/n times); callers report such clips as
short instead of dropping them. Models imported from the paper's tutorial keep its own whole-clip rule
(`spread="stride"`: every max(n // frames, 1)-th frame from the first, the last one repeated when a clip is
too short for that) and its linear resize, so they see exactly the frames their author's code gave them.
A window over a video or a stream spans `window_seconds`, the span of a training clip, so it keeps one frame
every `window_seconds / frames` seconds whatever the frame rate.
A `ClipSampler` is recorded whole in each bundle's model.json ("sampler") and read back from it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import DEFAULT_WINDOW_SECONDS, IMAGE_SIZE, SEQUENCE_LENGTH

SPREADS = {"centred": "floor((i + 0.5) * n / length) over the span",
           "stride": "min(i * max(n // length, 1), n - 1), the tutorial's"}
RESIZES = {"area": "cv2.INTER_AREA", "linear": "cv2.INTER_LINEAR",
           "fit": "cv2.INTER_AREA to a long side of at most image_size, aspect kept (body-pose models)"}


def span_indices(start: int, stop: int, length: int) -> np.ndarray:
    """Indices of `length` evenly spaced frames in [start, stop)."""
    n = stop - start
    if n <= 0:
        raise ValueError(f"empty span [{start}, {stop})")
    if length <= 0:
        raise ValueError("length must be positive")
    return start + np.floor((np.arange(length) + 0.5) * n / length).astype(np.int64)


@dataclass(frozen=True)
class ClipSampler:
    """How frames become one input of a model: `frames` RGB frames of `image_size` pixels (the architecture's
    record), spread over a whole clip (`spread`, a key of SPREADS), or over `window_seconds` of a video or
    stream; each resized with `resize` (a key of RESIZES); a label over time is the mean of the last `smooth`
    windows."""

    frames: int = SEQUENCE_LENGTH
    image_size: int = IMAGE_SIZE
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    smooth: int = 3
    spread: str = "centred"
    resize: str = "area"

    def __post_init__(self) -> None:
        if self.spread not in SPREADS or self.resize not in RESIZES:
            raise ValueError(f"unknown sampler spread {self.spread!r} or resize {self.resize!r}")

    def clip_indices(self, n: int) -> np.ndarray:
        """The frames of a whole clip of `n` frames."""
        if self.spread == "stride":
            if n <= 0:
                raise ValueError("empty clip")
            return np.minimum(np.arange(self.frames) * max(n // self.frames, 1), n - 1).astype(np.int64)
        return span_indices(0, n, self.frames)

    @property
    def frame_interval(self) -> float:
        """Seconds between two frames of a window."""
        return self.window_seconds / self.frames

    def window_step(self, fps: float) -> int:
        """Frames between two sampled frames of a sliding window over a video at `fps`."""
        return max(1, int(round(self.frame_interval * fps)))

    def window_members(self, k: int) -> np.ndarray:
        """Which sampled frames (0..k) form window k of a video or stream sampled every `frame_interval`.

        Once `frames` sampled frames exist the window is the last `frames` of them; before that it is the
        clip rule over what exists, so early windows repeat frames exactly as short clips do.
        """
        if k + 1 >= self.frames:
            return np.arange(k + 1 - self.frames, k + 1)
        return span_indices(0, k + 1, self.frames)

    def smoothed(self, probs: np.ndarray) -> np.ndarray:
        """Each window's probabilities averaged with the `smooth - 1` before it (labels that do not flicker)."""
        n = max(1, self.smooth)
        return np.stack([probs[max(0, k - n + 1):k + 1].mean(axis=0) for k in range(len(probs))])

    def as_meta(self) -> dict[str, Any]:
        """model.json's "sampler": these fields, spread and resize written out, plus what every frame is (RGB
        uint8, see video.to_model_frame)."""
        return {"sequence_length": self.frames, "image_size": self.image_size, "color_order": "RGB",
                "resize": RESIZES[self.resize], "value_range": "uint8 0-255, rescaled inside the model",
                "rule": SPREADS[self.spread], "window_seconds": self.window_seconds, "smooth": self.smooth}

    @classmethod
    def from_meta(cls, sampler: dict[str, Any]) -> "ClipSampler":
        """The sampler a model.json records (bundles written before a field existed get its default)."""
        spread = {v: k for k, v in SPREADS.items()}.get(sampler.get("rule", SPREADS["centred"]))
        resize = {v: k for k, v in RESIZES.items()}.get(sampler.get("resize", RESIZES["area"]))
        if spread is None or resize is None:
            raise ValueError(f"unknown frame rule {sampler.get('rule')!r} or resize {sampler.get('resize')!r}")
        return cls(int(sampler["sequence_length"]), int(sampler["image_size"]),
                   float(sampler.get("window_seconds", DEFAULT_WINDOW_SECONDS)), int(sampler.get("smooth", 3)),
                   spread, resize)
