"""Looking at a dataset: random class samples titled like the paper's figure, and browser-playable previews.

UCF50 clips are xvid AVI, which browsers cannot play; a preview is the clip transcoded once to H.264 into
the cache, keyed by the file's identity, so every session reuses it.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import cv2
import numpy as np

from ..errors import HarError
from ..media.video import H264Writer, iter_frames, open_capture, read_header
from .dataset import Clip, DatasetIndex, cache_key


def sample_clips(index: DatasetIndex, k: int, seed: int) -> list[Clip]:
    """One random clip from each of `k` random classes (all classes when there are fewer), by class name."""
    rng = random.Random(seed)
    groups = index.by_class()
    classes = sorted(rng.sample(sorted(groups), min(k, len(groups))))
    return [rng.choice(groups[c]) for c in classes]


def title_frame(path: str | os.PathLike, title: str, width: int = 320) -> np.ndarray:
    """The clip's first frame as RGB, `width` wide, with `title` drawn on a dark band at the bottom."""
    cap = open_capture(path)
    try:
        ok, bgr = cap.read()
    finally:
        cap.release()
    if not ok or bgr is None:
        raise HarError(f"no frame could be decoded from {Path(path).name}: not a video, or damaged")
    h, w = bgr.shape[:2]
    img = cv2.resize(bgr, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)
    h = img.shape[0]
    scale = width / 400
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    band = th + base + 12
    img[h - band:] = (img[h - band:] * 0.35).astype(np.uint8)
    cv2.putText(img, title, ((width - tw) // 2, h - base - 6), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def preview(path: str | os.PathLike, cache_dir: str | os.PathLike) -> Path:
    """An H.264 MP4 of the clip for the browser, made once per file identity and reused."""
    src = Path(path)
    folder = Path(cache_dir) / "previews"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{cache_key(src)}.mp4"
    if out.is_file():
        return out
    frames = iter_frames(src)
    first = next(frames, None)
    if first is None:
        raise HarError(f"no frame could be decoded from {src.name}: not a video, or damaged")
    with H264Writer(out, read_header(src).fps, first.shape[1], first.shape[0]) as writer:
        writer.write(first)
        for bgr in frames:
            writer.write(bgr)
    return out
