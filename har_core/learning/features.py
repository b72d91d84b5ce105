"""Per-frame features of a frozen pretrained backbone, and body keypoints, computed once per clip and kept on disk.

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

from ..config import settings
from ..datasets.dataset import cache_key, load_cached
from ..media.sampling import ClipSampler
from ..media.video import sample_clip
from ..pose.blazepose import FRAME_DIM, estimator, read_manifest

FEATURES_FORMAT = 1
FEATURE_DTYPE = "float16"  # as stored, by a local run and a cluster worker alike


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
            _save_atomic(targets[i], feats[offset:offset + len(clip)].astype(FEATURE_DTYPE))
            offset += len(clip)
        if progress:
            progress(min(start + per_call, len(todo)), len(todo))
    return np.stack([np.load(t).astype("float32") for t in targets]) if targets else np.zeros((0, 0, 0), "float32")


def keypoints_dir(cache_root: Path, sampler: ClipSampler) -> Path:
    """Where body keypoints live: per pose models (their sha256), clip length, frame size and spread."""
    models = read_manifest()["landmarks"]["sha256"][:12]
    return cache_root / (f"keypoints-v{FEATURES_FORMAT}-{models}-L{sampler.frames}-S{sampler.image_size}-"
                         f"{sampler.spread}")


def cached_keypoints(videos: list[Path], sampler: ClipSampler, cache_dir: str | os.PathLike | None = None,
                     progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Body keypoints (n, frames, FRAME_DIM) of the frames `sampler` picks from each video (frames of their own
    shape, long side at most the sampler's size), tracked through the clip by BlazePose; computed once per file
    version, sampler and pose models, kept on disk like the frame features. A clip where nobody is found has
    presence 0 in every frame: what to make of that is the caller's."""
    folder = keypoints_dir(Path(cache_dir or settings().cache_dir), sampler)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for done, video in enumerate(videos, 1):
        target = folder / f"{cache_key(Path(video))}.npy"
        if target.exists():
            out.append(np.load(target))
        else:
            out.append(estimator().track(sample_clip(video, sampler).frames))
            _save_atomic(target, out[-1])
        if progress:
            progress(done, len(videos))
    return np.stack(out) if out else np.zeros((0, sampler.frames, FRAME_DIM), "float32")
