"""Heads that run in numpy, on per-frame features from a LiteRT encoder: what most bundles predict with.

A "mean" head (the default model, Lite0's, taught models) is a softmax over the averages of each ordered segment
of the clip's frame features: a matrix product, so it needs no framework at all. It is stored as `head.npz`
beside model.json; the same weights sit in the Keras model's Dense layer when a bundle also has model.keras.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import HarError

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


def load_head(path: str | os.PathLike, dim: int, frames: int) -> LinearHead:
    """A bundle's head.npz, checked against the features (dim) and frames it will read."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as z:
            kind, kernel, bias, segments = str(z["kind"]), z["kernel"], z["bias"], int(z["segments"])
    except (OSError, KeyError, ValueError) as exc:
        raise HarError(f"{p.parent.name}: {p.name} cannot be read ({exc.__class__.__name__})") from None
    if kind != "linear":
        raise HarError(f"{p.parent.name}: {p.name} holds a {kind!r} head, which this version does not read")
    if segments < 1 or frames % segments or kernel.ndim != 2 or kernel.shape[0] != segments * dim \
            or bias.shape != (kernel.shape[1],):
        raise HarError(f"{p.parent.name}: {p.name} does not fit {frames} frames of {dim} features")
    return LinearHead(kernel.astype("float32"), bias.astype("float32"), segments)
