"""Linear heads fitted by scikit-learn on cached frame features: the default model's head, Lite0's and every
taught model's. A fit takes a fraction of a second and needs no Keras (teaching never starts TensorFlow).

Fits run with one BLAS thread: these problems are small, and OpenBLAS's threads spinning for work made a fit
10 to 40 times slower on two busy cores (0.94 s against 0.026 s for a gesture head; 2.4 s against 0.2 s for the
eleven-class head).
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from ..errors import HarError
from ..models.heads import LinearHead, PoseHead, segment_means
from ..pose import motion


def balanced_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Sample weights that give every known class the same total weight (23 clips of a UCF101 class count as
    much as 113 of HorseRace) and the 'other' examples (label `n_classes`) together the weight of all known
    ones: however many unrelated clips there are, 'other' is one answer as strong as the classes (weight 1.0
    rejected more held-out unknowns than 0.5 at the same known accuracy: weights/README)."""
    from sklearn.utils.class_weight import compute_sample_weight

    known = y < n_classes
    w = np.ones(len(y), dtype="float32")
    w[known] = compute_sample_weight("balanced", y[known])
    if (~known).any():
        w[~known] = known.sum() / (~known).sum()
    return w


def fit_linear(x: np.ndarray, y: np.ndarray, n_out: int, c: float, weights: np.ndarray, segments: int = 1,
               centered: bool = False) -> LinearHead:
    """A multinomial logistic regression on segment-averaged features. Convex: no epochs, no early stopping,
    the same answer for the same clips.

    `centered` fits on each clip's segment means minus their mean over the clip: what changes from beginning
    to end, not what the scene looks like (gestures by people the model never saw). Centering is linear, so
    it folds into the kernel and the head keeps the plain layers: a clip without motion scores the bias.
    """
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(y)) != n_out:
        raise HarError("every class needs training clips")
    feats = segment_means(x, segments)
    if centered:
        feats = _center(feats, segments)
    with threadpool_limits(1, "blas"):
        lr = LogisticRegression(C=c, max_iter=5000).fit(feats, y, sample_weight=weights)
    kernel, bias = lr.coef_.T, lr.intercept_
    if n_out == 2:  # scikit-learn keeps one logit for two classes; softmax of (-z/2, z/2) is sigmoid(z)
        kernel, bias = np.c_[-kernel / 2, kernel / 2], np.r_[-bias / 2, bias / 2]
    if centered:  # (I - P) w, P averaging over segments, is what w does to centered features
        kernel = _center(kernel.T, segments).T
    return LinearHead(kernel.astype("float32"), bias.astype("float32"), segments)


def _center(rows: np.ndarray, segments: int) -> np.ndarray:
    """Each row (segments * D) minus the mean of its segments."""
    n = len(rows)
    parts = rows.reshape(n, segments, -1)
    return (parts - parts.mean(axis=1, keepdims=True)).reshape(n, -1)


AUGMENT_COPIES = 10  # variants of each taught clip (pose.motion.augment) a pose head also learns from


def pose_variants(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, 1 + AUGMENT_COPIES, D): each clip's motion features (pose.motion) and those of AUGMENT_COPIES variants
    of it (earlier or later, faster or slower, bigger or smaller, tilted), made once per teaching run and shared
    by every fold."""
    rng = np.random.default_rng(seed)
    plain = motion.features(x)
    return np.stack([np.vstack([f] + [motion.augment(clip, rng) for _ in range(AUGMENT_COPIES)])
                     for f, clip in zip(plain, x)]) if len(x) else np.zeros((0, 1 + AUGMENT_COPIES, 0), "float32")


def fit_pose(variants: np.ndarray, y: np.ndarray, n_out: int, c: float, weights: np.ndarray) -> PoseHead:
    """A standardised multinomial logistic regression on how the arms move, from each clip's `pose_variants`, so
    that a few takes of one person teach the gesture rather than that person's pace and reach."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y)) != n_out:
        raise HarError("every class needs training clips")
    copies = variants.shape[1]
    f = variants.reshape(-1, variants.shape[-1])
    ys, ws = np.repeat(y, copies), np.repeat(weights, copies)
    scaler = StandardScaler().fit(f)
    with threadpool_limits(1, "blas"):
        lr = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(f), ys, sample_weight=ws)
    kernel, bias = lr.coef_.T, lr.intercept_
    if n_out == 2:  # scikit-learn keeps one logit for two classes; softmax of (-z/2, z/2) is sigmoid(z)
        kernel, bias = np.c_[-kernel / 2, kernel / 2], np.r_[-bias / 2, bias / 2]
    return PoseHead(scaler.mean_.astype("float32"), scaler.scale_.astype("float32"), kernel.astype("float32"),
                    bias.astype("float32"))
