"""'No known activity': the score that says whether a clip shows one of the model's classes at all.

A model trained with outlier clips has one output more than it has classes, 'other'; the score of a clip
is the probability of its best known class, which an 'other' answer pulls down. The threshold is set
where a chosen share of known clips from held-out groups is accepted; model.json records it with the
rates it gave and their protocol.
"""
from __future__ import annotations

from typing import Any

import numpy as np

KNOWN_ACCEPT = 0.95  # share of held-out known clips the threshold lets through


def known_score(probs: np.ndarray, n_classes: int) -> np.ndarray:
    """Per row: the probability of the best known class (the 'other' column, if any, is not a class)."""
    return np.asarray(probs)[..., :n_classes].max(axis=-1)


def threshold_for(known_scores: np.ndarray, accept: float = KNOWN_ACCEPT) -> float:
    """The score below which a clip is 'no known activity', accepting `accept` of these known clips."""
    return float(np.quantile(np.asarray(known_scores, dtype="float64"), 1.0 - accept))


def rates(known_scores: np.ndarray, unknown_scores: np.ndarray | None, threshold: float) -> dict[str, Any]:
    """Known clips accepted and (where unknown clips were scored) unknown clips rejected and AUROC."""
    from sklearn.metrics import roc_auc_score

    known = np.asarray(known_scores)
    out: dict[str, Any] = {"threshold": threshold, "known_accepted": float((known >= threshold).mean()),
                           "n_known": int(len(known))}
    if unknown_scores is not None and len(unknown_scores):
        unknown = np.asarray(unknown_scores)
        truth = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
        out.update(unknown_rejected=float((unknown < threshold).mean()), n_unknown=int(len(unknown)),
                   auroc=float(roc_auc_score(truth, np.r_[known, unknown])))
    return out
