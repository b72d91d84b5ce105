"""Scores of predictions against labels (accuracy, per-class precision and recall, confusion), and a bundle's
predictions for cached clips through its own predictor: what `evaluate` reports, with no TensorFlow."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..datasets.dataset import Clip, extract, load_cached
from ..models.bundle import ModelBundle
from ..models.encoders import frame_encoder
from .features import cached_features, cached_keypoints


@dataclass
class Evaluation:
    accuracy: float
    n: int
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    classes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> Evaluation:
    """Accuracy, per-class precision and recall, and the confusion matrix (rows: true class)."""
    k = len(classes)
    cm = np.zeros((k, k), dtype=int)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class = {}
    for i, c in enumerate(classes):
        tp, predicted, actual = cm[i, i], cm[:, i].sum(), cm[i, :].sum()
        per_class[c] = {
            "precision": float(tp / predicted) if predicted else 0.0,
            "recall": float(tp / actual) if actual else 0.0,
            "support": int(actual),
        }
    n = int(len(y_true))
    return Evaluation(float(np.trace(cm) / n) if n else 0.0, n, per_class, cm.tolist(), list(classes))


def score_probs(probs: np.ndarray, labels: list[int], classes: list[str]) -> Evaluation:
    """`score` of output probabilities over the known classes (an open-set model's 'other' output never
    counts as an answer)."""
    return score(np.asarray(labels), np.asarray(probs)[:, :len(classes)].argmax(axis=1), classes)


def predict_cached(bundle: ModelBundle, clip_paths: list[Path], batch_size: int = 32) -> np.ndarray:
    """Output probabilities of a loaded bundle for cached clips, through its own predictor (LiteRT or Keras). A
    bundle with a frozen backbone reads the features cached for that backbone and runs only its head."""
    backbone, predictor = bundle.meta.get("backbone"), bundle.predictor
    if backbone and predictor.per_frame:
        name, size = backbone["name"], int(backbone["image_size"])
        feats = cached_features(clip_paths, frame_encoder(name, size), name)
        out = [predictor.head(feats[i:i + batch_size]) for i in range(0, len(clip_paths), batch_size)]
    else:
        out = [predictor.clips(np.stack([load_cached(p) for p in clip_paths[i:i + batch_size]]))
               for i in range(0, len(clip_paths), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, bundle.outputs), dtype="float32")


def predict_clips(bundle: ModelBundle, clips: list[Clip], cache_dir: str | os.PathLike | None = None,
                  progress: Callable[[int, int], None] | None = None) -> tuple[list[Clip], np.ndarray]:
    """The clips that could be read and a bundle's probabilities for them, each clip sampled once into the cache
    its model reads (uint8 clips and frame features, or body keypoints). An unreadable clip is left out (the
    clip cache reports it) or, for body keypoints, named in a one-line error."""
    if bundle.reads_pose:
        keypoints = cached_keypoints([c.path for c in clips], bundle.sampler, cache_dir, progress)
        return list(clips), bundle.predictor.head(keypoints)
    ex = extract(clips, cache_dir, size=bundle.sampler.image_size, progress=progress)
    return ex.clips, predict_cached(bundle, ex.paths)
