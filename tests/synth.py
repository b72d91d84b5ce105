"""Tiny synthetic videos, made inside the tests (no dataset needed).

Each class is a square moving in its own direction on a class-coloured background, so a small model
can learn the classes in a few epochs and every prediction path can be checked for agreement.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ("Left", "Right", "Up")
_MOTION = {"Left": (-1, 0), "Right": (1, 0), "Up": (0, -1)}
_COLOUR = {"Left": (40, 40, 160), "Right": (40, 160, 40), "Up": (160, 40, 40)}


def frames_for(label: str, n: int = 40, size: tuple[int, int] = (96, 72), seed: int = 0) -> list[np.ndarray]:
    """BGR frames of a square moving in the class's direction."""
    rng = np.random.default_rng(seed)
    w, h = size
    dx, dy = _MOTION[label]
    x, y = rng.integers(w // 4, 3 * w // 4), rng.integers(h // 4, 3 * h // 4)
    out = []
    for t in range(n):
        img = np.full((h, w, 3), _COLOUR[label], dtype=np.uint8)
        img = np.clip(img.astype(int) + rng.integers(-12, 12, img.shape), 0, 255).astype(np.uint8)
        cx, cy = int(x + dx * t * w / (2 * n)) % w, int(y + dy * t * h / (2 * n)) % h
        cv2.rectangle(img, (cx - 8, cy - 8), (cx + 8, cy + 8), (255, 255, 255), -1)
        cv2.putText(img, str(t), (2, h - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1)
        out.append(img)
    return out


def write_avi(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Write MJPG AVI with OpenCV (what UCF50-like inputs look like to the decoder)."""
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def make_video(path: Path, label: str = "Right", n: int = 40, fps: float = 25.0, seed: int = 0,
               size: tuple[int, int] = (96, 72)) -> Path:
    return write_avi(Path(path), frames_for(label, n, size, seed), fps)


def make_dataset(root: Path, per_class_groups: int = 4, clips_per_group: int = 2, n: int = 30) -> Path:
    """A UCF50-layout folder: <root>/<Class>/v_<Class>_gNN_cMM.avi."""
    for label in CLASSES:
        d = root / label
        d.mkdir(parents=True, exist_ok=True)
        for g in range(1, per_class_groups + 1):
            for c in range(1, clips_per_group + 1):
                make_video(d / f"v_{label}_g{g:02d}_c{c:02d}.avi", label, n=n, seed=g * 100 + c)
    return root


def write_h264(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    """BGR frames as a browser-playable H.264 MP4 (the app's own writer)."""
    from har_core.media.video import H264Writer

    h, w = frames[0].shape[:2]
    with H264Writer(path, fps, w, h) as writer:
        for f in frames:
            writer.write(f)
    return Path(path)
