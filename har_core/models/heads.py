"""Heads that run in numpy, on per-frame features from a LiteRT encoder: what most bundles predict with.

A "mean" head (the default model, Lite0's, scene models taught from clips) is a softmax over the averages of each
ordered segment of the clip's frame features: a matrix product, so it needs no framework at all. Its weights sit
in the Keras model's Dense layer too when a bundle also has model.keras. A "pose" head reads body keypoints
(pose.motion's features of how the arms move, standardised) and answers its last output, 'other', outright when
nobody is in view or nobody moves. Either is stored as `head.npz` beside model.json.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HarError
from ..pose import motion
from ..pose.blazepose import FRAME_DIM

HEAD_FILE = "head.npz"


def segment_means(x: np.ndarray, segments: int) -> np.ndarray:
    """(n, T, D) frame features -> (n, segments * D): the mean of each ordered part, as the mean head pools."""
    n, t, d = x.shape
    return x.reshape(n, segments, t // segments, d).mean(axis=2).reshape(n, segments * d)


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LinearHead:
    """A "mean" head's weights: a softmax over segment means (n, segments * D) @ kernel + bias."""

    kernel: np.ndarray
    bias: np.ndarray
    segments: int

    @property
    def outputs(self) -> int:
        return int(self.kernel.shape[1])

    @property
    def parameters(self) -> int:
        return int(self.kernel.size + self.bias.size)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for frame features (n, T, D), what the Keras head outputs for them."""
        return softmax(segment_means(np.asarray(x, dtype="float32"), self.segments) @ self.kernel + self.bias)

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, kind="linear", kernel=self.kernel, bias=self.bias, segments=self.segments)


@dataclass(frozen=True)
class PoseHead:
    """A softmax over standardised motion features of a clip's keypoints; the last output is 'other'."""

    mean: np.ndarray
    scale: np.ndarray
    kernel: np.ndarray
    bias: np.ndarray

    @property
    def outputs(self) -> int:
        return int(self.kernel.shape[1])

    @property
    def parameters(self) -> int:
        return int(self.mean.size + self.scale.size + self.kernel.size + self.bias.size)

    def probs(self, x: np.ndarray) -> np.ndarray:
        """Probabilities for clips' keypoints (n, T, FRAME_DIM): 'other' (certain) for a clip with nobody in
        view or nobody moving, the fitted softmax otherwise."""
        x = np.asarray(x, dtype="float32")
        probs = softmax((motion.features(x) - self.mean) / self.scale @ self.kernel + self.bias)
        for i, clip in enumerate(x):
            s = motion.summary(clip)
            if s.nobody or s.still:
                probs[i] = np.eye(self.outputs, dtype="float32")[-1]
        return probs

    def save(self, path: str | os.PathLike) -> None:
        with open(path, "wb") as fh:
            np.savez(fh, kind="pose", mean=self.mean, scale=self.scale, kernel=self.kernel, bias=self.bias)


def load_head(path: str | os.PathLike, dim: int, frames: int) -> LinearHead | PoseHead:
    """A bundle's head.npz, checked against the features (dim) and frames it will read."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            kind = str(z["kind"])
            arrays = {k: z[k] for k in z.files if k != "kind"}
    except (OSError, KeyError, ValueError) as exc:
        raise HarError(f"{p.parent.name}: {p.name} cannot be read ({exc.__class__.__name__})") from None
    try:
        if kind == "pose":
            head = PoseHead(*(arrays[k].astype("float32") for k in ("mean", "scale", "kernel", "bias")))
            fits = dim == FRAME_DIM and head.mean.shape == head.scale.shape == (head.kernel.shape[0],)
        elif kind == "linear":
            segments = int(arrays["segments"])
            head = LinearHead(arrays["kernel"].astype("float32"), arrays["bias"].astype("float32"), segments)
            fits = segments >= 1 and frames % segments == 0 and head.kernel.shape[0] == segments * dim
        else:
            raise HarError(f"{p.parent.name}: {p.name} holds a {kind!r} head, which this version does not read")
    except (KeyError, ValueError, TypeError):
        raise HarError(f"{p.parent.name}: {p.name} is not a complete {kind} head") from None
    if not fits or head.kernel.ndim != 2 or head.bias.shape != (head.kernel.shape[1],):
        raise HarError(f"{p.parent.name}: {p.name} does not fit {frames} frames of {dim} features")
    return head
