"""k-fold cross-validation over UCF50 groups: a mean and a spread instead of one lucky split.

Each fold's test groups are never seen while training: the model fits on the remaining groups, and
early stopping watches validation groups carved from those remaining groups (splits.kfold_by_groups).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..datasets.dataset import Roots, as_roots, extract, scan
from ..datasets.splits import kfold_by_groups
from ..errors import HarError
from ..models.bundle import META_FILE, read_meta
from .evaluation import predict_cached, score_probs
from .openset import KNOWN_ACCEPT, known_score, rates, threshold_for
from .trainconfig import TrainConfig
from .training import (
    ProgressHook,
    evaluate,
    labelled,
    outlier_clips,
    predict_paths,
    train,
    training_caches,
)


@dataclass(frozen=True)
class FoldResult:
    """One fold: which groups were held out, and how the model trained on the rest scored on them."""

    fold: int
    test_groups: list[str]
    val_groups: list[str]
    accuracy: float
    n: int
    val_accuracy: float
    best_epoch: int
    epochs_run: int
    seconds: float
    recall: dict[str, float] = field(default_factory=dict)  # per class, on this fold's held-out clips


@dataclass
class CrossvalResult:
    arch: str
    classes: list[str]
    k: int
    folds: list[FoldResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    open_set: dict[str, Any] | None = None
    confusion: list[list[int]] = field(default_factory=list)  # summed over folds; rows: true class

    @property
    def per_class(self) -> dict[str, dict[str, float]]:
        """Recall and support per class over every fold's held-out clips (each clip is tested once)."""
        cm = np.asarray(self.confusion)
        return {c: {"recall": float(cm[i, i] / cm[i].sum()) if cm[i].sum() else 0.0, "support": int(cm[i].sum())}
                for i, c in enumerate(self.classes)} if cm.size else {}

    @property
    def accuracies(self) -> list[float]:
        return [f.accuracy for f in self.folds]

    @property
    def mean(self) -> float:
        return sum(self.accuracies) / len(self.folds) if self.folds else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation over folds (ddof=1): the spread one more fold would show."""
        n = len(self.folds)
        if n < 2:
            return math.nan
        m = self.mean
        return math.sqrt(sum((a - m) ** 2 for a in self.accuracies) / (n - 1))

    @property
    def protocol(self) -> str:
        return (f"{self.k}-fold over groups: each fold's test groups never used for training or early stopping; "
                "validation groups carved from the remaining groups")

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "classes": self.classes, "k": self.k, "protocol": self.protocol,
                "accuracies": self.accuracies, "mean": self.mean,
                "std": self.std if len(self.folds) > 1 else None,
                "folds": [asdict(f) for f in self.folds], "settings": self.settings,
                "per_class": self.per_class, "confusion": self.confusion,
                **({"open_set": self.open_set} if self.open_set else {})}


FoldHook = Callable[[FoldResult], None]


def crossval(
    data_dir: Roots,
    config: TrainConfig,
    k: int = 5,
    classes: list[str] | None = None,
    outlier_dirs: list[str] | None = None,
    val_fraction: float = 0.15,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressHook | None = None,
    on_fold: FoldHook | None = None,
) -> CrossvalResult:
    """Train `arch` once per fold and score it on that fold's held-out groups.

    With `outlier_dirs`, their classes are dealt into the k folds too: each fold's model learns 'other'
    from the outlier classes of the other folds, and is scored on its own fold's outlier classes, which
    it never saw. The 'no known activity' threshold is then set on all folds' held-out known clips and
    the unknown clips rejected at it are counted: the open-set figures a shipped model records.

    `on_fold` is called after each fold, so a long run reports (and a caller can save) partial results.
    """
    config = config.resolved()
    image_size, seed = config.image_size, config.seed
    index = scan(data_dir).select(classes)
    classes = index.classes
    folds = kfold_by_groups(index.clips, k=k, val_fraction=val_fraction, seed=seed)
    ex, train_ex = training_caches(index.clips, config, cache_dir)
    if ex.failed or train_ex.failed:
        failed = ex.failed or train_ex.failed
        raise HarError(f"{len(failed)} clip(s) could not be read, e.g. {failed[0][1]}")
    outliers, outlier_labels = (outlier_clips(outlier_dirs, classes, image_size, cache_dir) if outlier_dirs
                                else ([], []))
    outlier_classes = sorted(set(outlier_labels))
    dealt = outlier_classes[:]
    random.Random(seed).shuffle(dealt)
    outlier_fold = {c: i % k for i, c in enumerate(dealt)}
    out = CrossvalResult(config.arch, classes, k, settings={
        **config.record(), "outlier_classes": outlier_classes, "val_fraction": val_fraction, "clips": len(ex.clips),
        "data": [str(r.resolve()) for r in as_roots(data_dir)]})
    known_scores, unknown_scores, unknown_names = [], [], []
    for i, split in enumerate(folds):
        train_xy = labelled(train_ex, split.train, classes)
        val_xy, test_xy = (labelled(ex, part, classes) for part in (split.val, split.test))
        seen = [p for p, c in zip(outliers, outlier_labels) if outlier_fold[c] != i]
        unseen = [(p, c) for p, c in zip(outliers, outlier_labels) if outlier_fold[c] == i]
        start = time.perf_counter()
        res = train(config, classes, train_xy, val_xy, progress=progress, outliers=seen or None)
        test_probs = predict_paths(res.model, test_xy[0])
        test_eval = score_probs(test_probs, test_xy[1], classes)
        val_eval = evaluate(res.model, *val_xy, classes)
        if outliers:
            known_scores.append(known_score(test_probs, len(classes)))
            unknown_scores.append(known_score(predict_paths(res.model, [p for p, _ in unseen]), len(classes)))
            unknown_names += [c for _, c in unseen]
        fold = FoldResult(i + 1, list(split.test_groups), list(split.val_groups), test_eval.accuracy, test_eval.n,
                          val_eval.accuracy, res.best_epoch, len(res.history), round(time.perf_counter() - start, 1),
                          {c: v["recall"] for c, v in test_eval.per_class.items()})
        cm = np.asarray(test_eval.confusion)
        out.confusion = (cm + np.asarray(out.confusion) if out.confusion else cm).tolist()
        out.folds.append(fold)
        if on_fold:
            on_fold(fold)
    if outliers:
        known, unknown = np.concatenate(known_scores), np.concatenate(unknown_scores)
        threshold = threshold_for(known)
        names = np.asarray(unknown_names)
        out.open_set = {**rates(known, unknown, threshold), "protocol": (
            f"{k}-fold: known clips of each fold's held-out groups; unknown clips of the outlier classes dealt "
            f"to that fold, which its model never saw; threshold at {KNOWN_ACCEPT:.0%} of known clips accepted"),
            "rejected_by_class": {c: float((unknown[names == c] < threshold).mean()) for c in outlier_classes}}
    return out


def record_in_bundle(bundle_dir: str | os.PathLike, result: dict[str, Any]) -> dict[str, Any]:
    """Store a cross-validation result (CrossvalResult.as_dict, plus its command) in a bundle's model.json
    as metrics['crossval'], so the bundle carries its spread next to its single test number.

    The result must be for the bundle's architecture and classes; model.json is replaced atomically.
    """
    meta = read_meta(bundle_dir)
    if result.get("arch") != meta["architecture"] or result.get("classes") != meta["classes"]:
        raise HarError(f"this cross-validation is for {result.get('arch')} on {result.get('classes')}, not for "
                       f"the bundle's {meta['architecture']} on {meta['classes']}")
    keep = ("k", "protocol", "accuracies", "mean", "std", "folds", "per_class", "confusion", "settings", "command")
    meta.setdefault("metrics", {})["crossval"] = {key: result[key] for key in keep if key in result}
    if result.get("open_set") and meta.get("open_set"):
        # k-fold scores every known clip once from held-out groups and every unknown one from a model that
        # never saw its class: a better place for the threshold than the few validation groups' clips.
        meta["open_set"] = {key: value for key, value in meta["open_set"].items() if key != "test"}
        meta["open_set"].update(threshold=result["open_set"]["threshold"], protocol=result["open_set"]["protocol"],
                                crossval=result["open_set"])
    _write_meta(bundle_dir, meta)
    return meta


def _write_meta(bundle_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    path = Path(bundle_dir) / META_FILE
    tmp = path.with_name(f".{META_FILE}.partial-{os.getpid()}")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, path)


def calibrate_max_softmax(bundle_dir: str | os.PathLike, data_dir: Roots, outlier_dirs: list[str],
                          cache_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """'No known activity' for a bundle without an 'other' output (the paper's networks): its best class's
    probability, thresholded where 95% of its validation groups' known clips pass, then measured on its
    test groups and on clips of classes it never saw. model.json is replaced atomically."""
    from ..models.bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    meta, classes = bundle.meta, bundle.classes
    if (meta.get("open_set") or {}).get("other_output"):
        raise HarError(f"bundle {bundle.name} learnt 'other' in training: its threshold comes from crossval --record")
    index = scan(data_dir).select(classes)

    def scores(groups: list[str]) -> np.ndarray:
        clips = [c for c in index.clips if c.group in groups]
        if not clips:
            raise HarError(f"no clips of {bundle.name}'s classes in groups {', '.join(groups) or 'none'}")
        ex = extract(clips, cache_dir, size=bundle.sampler.image_size)
        return known_score(predict_cached(bundle, ex.paths), len(classes))

    split = meta.get("split") or {}
    threshold = threshold_for(scores(split.get("val_groups") or []))
    paths, labels = outlier_clips(outlier_dirs, classes, bundle.sampler.image_size, cache_dir)
    unknown = known_score(predict_cached(bundle, paths), len(classes))
    names = np.asarray(labels)
    meta["open_set"] = {
        "score": "probability of the best class (no 'other' output)", "other_output": False, "threshold": threshold,
        "protocol": (f"threshold: {KNOWN_ACCEPT:.0%} of the validation groups' known clips accepted; rates: the "
                     f"test groups' known clips and {len(paths)} clips of {len(set(labels))} classes the model "
                     "never saw"),
        "test": {**rates(scores(split.get("test_groups") or []), unknown, threshold),
                 "rejected_by_class": {c: float((unknown[names == c] < threshold).mean()) for c in sorted(set(labels))}},
        "outlier_data": [str(Path(d).resolve()) for d in outlier_dirs],
    }
    _write_meta(bundle_dir, meta)
    return meta
