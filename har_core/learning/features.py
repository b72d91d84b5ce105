"""Per-frame features of a frozen pretrained backbone, computed once per cached clip and kept on disk.

A head trained on these trains in seconds, because the backbone (the costly part) never runs twice for
the same frames. The cache sits beside the uint8 clip cache and shares its key (file identity), plus the
backbone's name and frame size; float16 keeps a 20-frame clip at 50 KB.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..datasets.dataset import load_cached

FEATURES_FORMAT = 1


class Encoder(Protocol):
    """What encodes frames: models.encoders' shared LiteRT encoder, or its Keras twin."""

    def encode(self, frames: np.ndarray) -> np.ndarray: ...


def features_dir(clip_cache_path: Path, backbone: str) -> Path:
    """Where a clip's features live: a sibling of its clip-cache folder, named for backbone and sampler."""
    folder = clip_cache_path.parent
    return folder.parent / f"features-v{FEATURES_FORMAT}-{backbone}-{folder.name}"


def _save_atomic(target: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(suffix=".npy", prefix=".partial-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_features(
    clip_paths: list[Path],
    encoder: Encoder,
    backbone: str,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Features (n_clips, frames, dim) float32 of cached clips; computed (batched across clips) only for
    clips not already encoded with this backbone."""
    targets = [features_dir(p, backbone) / f"{p.stem}.npy" for p in clip_paths]
    for folder in {t.parent for t in targets}:
        folder.mkdir(parents=True, exist_ok=True)
    todo = [i for i, t in enumerate(targets) if not t.exists()]
    per_call = 4  # clips per encoding pass: 80 frames, ten encoder calls
    for start in range(0, len(todo), per_call):
        chunk = todo[start:start + per_call]
        clips = [load_cached(clip_paths[i]) for i in chunk]
        feats = encoder.encode(np.concatenate(clips))
        offset = 0
        for i, clip in zip(chunk, clips):
            _save_atomic(targets[i], feats[offset:offset + len(clip)].astype("float16"))
            offset += len(clip)
        if progress:
            progress(min(start + per_call, len(todo)), len(todo))
    return np.stack([np.load(t).astype("float32") for t in targets]) if targets else np.zeros((0, 0, 0), "float32")
