"""How the arms move, from a clip's keypoints: a vector that does not depend on who, where or how far away.

Per clip (its sampled frames' keypoints, blazepose.FRAME_DIM each): elbows and wrists relative to the centre of
the shoulders, divided by the shoulders' width (the body's own scale), over the span of the clip where they move,
resampled to STEPS steps; then those positions, their steps (velocity), and the size of their slowest
oscillations (how often the arm goes back and forth, whatever the pace). Frames where nobody was found are
filled in from their neighbours. `augment` makes variants of a clip for training (a little earlier or later,
faster or slower, bigger or smaller, tilted): MMAction2's skeleton transforms, on the trajectories.

`summary` says what a head must refuse outright: nobody in view, or nobody moving.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blazepose import FRAME_DIM, POINTS

SHOULDERS = (11, 12)
JOINTS = (13, 14, 15, 16)  # elbows, then wrists, left and right
STEPS = 12
SPECTRUM = 8  # low-frequency bins of the oscillation spectrum, per coordinate
MOVING = 0.1  # a step moves if its speed is over this share of the clip's fastest
MIN_PERSON = 0.5  # share of frames with a person for a clip to count as having one
STILL = 0.5  # below this many shoulder widths of hand and elbow travel, nobody is doing anything


@dataclass(frozen=True)
class Summary:
    """What a clip's keypoints show before any head reads them."""

    person: float  # share of frames with a person found
    travel: float  # how far elbows and wrists moved over the clip, in shoulder widths

    @property
    def nobody(self) -> bool:
        return self.person < MIN_PERSON

    @property
    def still(self) -> bool:
        return self.travel < STILL


def _points(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 33, 2) image positions with missing frames filled from their neighbours, and which frames had a
    person."""
    clip = np.asarray(clip, dtype="float32").reshape(len(clip), FRAME_DIM)
    present = clip[:, -1] >= 0.5
    xy = clip[:, :-1].reshape(len(clip), POINTS, 4)[:, :, :2].copy()
    if present.any() and not present.all():
        t, have = np.arange(len(clip)), np.flatnonzero(present)
        for j in range(POINTS):
            for c in range(2):
                xy[:, j, c] = np.interp(t, have, xy[have, j, c])
    return np.nan_to_num(xy), present


def arms(clip: np.ndarray) -> np.ndarray:
    """(T, 4, 2) elbows and wrists relative to the shoulders' centre, in shoulder widths (the clip's median)."""
    xy, present = _points(clip)
    centre = xy[:, SHOULDERS].mean(axis=1)
    widths = np.linalg.norm(xy[:, SHOULDERS[0]] - xy[:, SHOULDERS[1]], axis=1)
    width = float(np.median(widths[present])) if present.any() else 0.0
    return (xy[:, JOINTS] - centre[:, None]) / max(width, 1e-6)


def summary(clip: np.ndarray) -> Summary:
    xy, present = _points(clip)
    if not present.any():
        return Summary(0.0, 0.0)
    a = arms(clip)
    return Summary(float(present.mean()), float(np.linalg.norm(np.diff(a, axis=0), axis=2).sum(axis=0).max()))


def moving_span(a: np.ndarray) -> np.ndarray:
    """The part of a trajectory (T, J, 2) between the first and the last step that moves."""
    speed = np.linalg.norm(np.diff(a, axis=0), axis=2).sum(axis=1)
    if len(speed) == 0 or speed.max() <= 0:
        return a
    moving = np.flatnonzero(speed > MOVING * speed.max())
    return a[moving.min():moving.max() + 2]


def resample(a: np.ndarray, steps: int) -> np.ndarray:
    """(T, J, 2) -> (steps, J * 2), linearly interpolated in time."""
    flat = a.reshape(len(a), -1)
    at = np.linspace(0, len(a) - 1, steps)
    return np.stack([np.interp(at, np.arange(len(a)), flat[:, k]) for k in range(flat.shape[1])], axis=1)


def vector(a: np.ndarray) -> np.ndarray:
    """The features of one trajectory span: positions, steps, and the low oscillation spectrum."""
    r = resample(a, STEPS)
    fine = resample(a, 32)
    spectrum = np.abs(np.fft.rfft(fine - fine.mean(axis=0), axis=0))[1:SPECTRUM + 1]
    return np.concatenate([r.ravel(), np.diff(r, axis=0).ravel(), spectrum.ravel()]).astype("float32")


def features(clips: np.ndarray) -> np.ndarray:
    """(n, T, FRAME_DIM) keypoints -> (n, D) features of how the arms move."""
    return np.stack([vector(moving_span(arms(c))) for c in clips])


def augment(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One variant of a clip's features: its moving span cut a little shorter at either end, played faster or
    slower, scaled by up to 15% and tilted by up to 10 degrees about the shoulders."""
    a = moving_span(arms(clip))
    n = len(a)
    start, stop = rng.uniform(0, 0.1) * (n - 1), (n - 1) * (1 - rng.uniform(0, 0.1))
    at = start + (stop - start) * np.linspace(0, 1, 48) ** np.exp(rng.uniform(-0.25, 0.25))
    flat = a.reshape(n, -1)
    warped = np.stack([np.interp(at, np.arange(n), flat[:, k]) for k in range(flat.shape[1])], 1).reshape(48, -1, 2)
    angle, scale = np.deg2rad(rng.uniform(-10, 10)), rng.uniform(0.85, 1.15)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * scale
    return vector(warped @ turn.T + rng.normal(0, 0.05, 2))
