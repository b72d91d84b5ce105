"""Training with early stopping, best weights, progress events and cooperative cancel; evaluation.

Clips stream from the uint8 cache batch by batch (a keras PyDataset), so memory stays flat however
large the dataset is. `train_and_save` is the whole pipeline the CLI and the Train page run.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import SEQUENCE_LENGTH
from ..datasets.augment import Augment, augment_named
from ..datasets.dataset import Clip, ExtractResult, Roots, as_roots, extract, load_cached, scan
from ..datasets.splits import Split, split_for
from ..errors import HarError
from ..media.sampling import ClipSampler
from ..models import bundle as bundle_mod
from ..models.encoders import frame_encoder
from ..models.builders import attach_backbone, build, build_sequence_head, pretrained_parts
from ..quiet import keras
from .evaluation import Evaluation, score_probs
from .features import cached_features
from .linear import balanced_weights, fit_linear
from .openset import KNOWN_ACCEPT, known_score, rates, threshold_for
from .trainconfig import TrainConfig


@dataclass
class TrainEvent:
    """One progress event: kind is 'stage', 'batch', 'epoch' or 'done'."""

    kind: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    logs: dict[str, float] = field(default_factory=dict)
    message: str = ""


ProgressHook = Callable[[TrainEvent], None]


class ClipSequence(keras.utils.PyDataset):
    """Batches of uint8 clips read from the cache; reshuffled each epoch; augmented when asked."""

    def __init__(self, paths: list[Path], labels: list[int], batch_size: int, shuffle: bool, seed: int = 27,
                 augment: Augment | None = None):
        super().__init__()
        self.paths, self.labels = list(paths), np.asarray(labels, dtype="int32")
        self.batch_size, self.shuffle, self.augment = batch_size, shuffle, augment
        self.rng = np.random.default_rng(seed)
        self.order = np.arange(len(self.paths))
        if shuffle:
            self.rng.shuffle(self.order)

    def __len__(self) -> int:
        return math.ceil(len(self.paths) / self.batch_size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        clips = (load_cached(self.paths[j]) for j in idx)
        if self.augment is not None:
            clips = (self.augment(c, self.rng) for c in clips)
        return np.stack(list(clips)), self.labels[idx]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.rng.shuffle(self.order)


class _Monitor(keras.callbacks.Callback):
    """Publishes progress, keeps the best weights (lowest val_loss), stops on cancel or patience."""

    def __init__(self, epochs: int, batches: int, patience: int, progress: ProgressHook | None,
                 cancel: threading.Event | None):
        super().__init__()
        self.epochs, self.batches, self.patience = epochs, batches, patience
        self.progress, self.cancel = progress, cancel
        self.best_loss, self.best_epoch, self.best_weights = math.inf, -1, None
        self.wait, self.history, self.cancelled, self.stopped_early = 0, [], False, False
        self._epoch = 0

    def _emit(self, event: TrainEvent) -> None:
        if self.progress:
            self.progress(event)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._emit(TrainEvent("batch", self._epoch + 1, self.epochs, batch + 1, self.batches,
                              {k: float(v) for k, v in (logs or {}).items()}))
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.cancelled:  # cut short mid-epoch: neither a finished epoch nor a candidate for best
            return
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.history.append({"epoch": epoch + 1, **logs})
        loss = logs.get("val_loss", math.inf)
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.wait = loss, epoch + 1, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_early = True
                self.model.stop_training = True
        self._emit(TrainEvent("epoch", epoch + 1, self.epochs, self.batches, self.batches, logs))
        if self.cancel is not None and self.cancel.is_set():
            self.cancelled = True
            self.model.stop_training = True


@dataclass
class TrainResult:
    model: keras.Model
    history: list[dict[str, float]]
    best_epoch: int
    stopped_early: bool
    cancelled: bool
    seconds: float
    settings: dict[str, Any]


def _fit(model: keras.Model, train: Any, val: Any, epochs: int, batches: int, patience: int,
         progress: ProgressHook | None, cancel: threading.Event | None, **fit_args: Any) -> _Monitor:
    monitor = _Monitor(epochs, batches, patience, progress, cancel)
    model.fit(train, validation_data=val, epochs=epochs, callbacks=[monitor], verbose=0, **fit_args)
    if monitor.best_weights is None:
        raise HarError("training was cancelled before the first epoch finished: no weights to keep")
    model.set_weights(monitor.best_weights)
    return monitor


def train(
    config: TrainConfig,
    classes: list[str],
    train_data: tuple[list[Path], list[int]],
    val_data: tuple[list[Path], list[int]],
    progress: ProgressHook | None = None,
    cancel: threading.Event | None = None,
    outliers: list[Path] | None = None,
) -> TrainResult:
    """Fit the configured architecture on cached clips; the returned model holds the best validation weights.

    `train_data` comes from the cache `training_caches` made for the config's augmentation (with temporal
    jitter it holds several candidate frames per slot); `val_data` from the plain one. With a pretrained
    backbone only the head trains, on cached frame features; `outliers` (cached clips of none of the classes)
    then train an extra last output, 'other', which the open-set score reads.

    A cancel (the event set from any thread) stops after the current batch and still returns the best
    weights so far; with no finished epoch there are none, and that is an error.
    """
    if not train_data[0] or not val_data[0]:
        raise HarError("training needs clips in both the training and the validation groups")
    config = config.resolved()
    rec, arch = config.architecture, config.arch
    epochs, batch_size, patience, image_size = config.epochs, config.batch_size, config.patience, config.image_size
    settings = {**config.record(), "outlier_clips": len(outliers or [])}
    keras.utils.set_random_seed(config.seed)
    loss = "sparse_categorical_crossentropy"
    start = time.perf_counter()
    if rec.backbone is None:
        if outliers:
            raise HarError(f"{arch} has no open-set output: outlier clips train only pretrained architectures")
        model = build(arch, len(classes), image_size)
        model.compile(optimizer=keras.optimizers.Adam(rec.learning_rate), loss=loss, metrics=["accuracy"])
        train_seq = ClipSequence(*train_data, batch_size=batch_size, shuffle=True, seed=config.seed,
                                 augment=augment_named(config.augment))
        val_seq = ClipSequence(*val_data, batch_size=max(batch_size, 16), shuffle=False)
        monitor = _fit(model, train_seq, val_seq, epochs, len(train_seq), patience, progress, cancel)
    else:
        other = [len(classes)] if outliers else []
        paths = list(train_data[0]) + list(outliers or [])
        y = np.asarray(list(train_data[1]) + other * len(outliers or []), dtype="int32")
        if progress:
            progress(TrainEvent("stage", message=f"encoding frames of {len(paths) + len(val_data[0])} clips"))
        x = clip_features(paths, rec.backbone, image_size, progress)
        x_val = clip_features(val_data[0], rec.backbone, image_size, progress)
        head = build_sequence_head(len(classes) + len(other), rec.head, rec.frames, x.shape[-1], rec.segments)
        y_val = np.asarray(val_data[1], dtype="int32")
        if rec.head == "mean":
            monitor = fit_linear_head(head, x, y, x_val, y_val, float(rec.c), balanced_weights(y, len(classes)),
                                      progress, rec.segments, rec.centered)
        else:
            head.compile(optimizer=keras.optimizers.Adam(rec.learning_rate), loss=loss, metrics=["accuracy"])
            monitor = _fit(head, x, (x_val, y_val), epochs, math.ceil(len(x) / batch_size), patience, progress,
                           cancel, y=y, batch_size=batch_size, sample_weight=balanced_weights(y, len(classes)),
                           shuffle=True)
        model = attach_backbone(head, rec.backbone, image_size)
    return TrainResult(model, monitor.history, monitor.best_epoch, monitor.stopped_early, monitor.cancelled,
                       time.perf_counter() - start, settings)


def fit_linear_head(head: keras.Model, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                    c: float, weights: np.ndarray, progress: ProgressHook | None, segments: int = 1,
                    centered: bool = False) -> _Monitor:
    """Fit a "mean" head (`fit_linear`) and copy it into the head's Dense layer; one 'epoch' of logs."""
    from sklearn.metrics import log_loss

    n_out = head.output_shape[-1]
    fitted = fit_linear(x, y, n_out, c, weights, segments, centered)
    head.get_layer("probs").set_weights([fitted.kernel, fitted.bias])
    monitor = _Monitor(1, 1, 1, progress, None)
    logs = {}
    for prefix, xs, ys in (("", x, y), ("val_", x_val, y_val)):
        probs = np.asarray(head.predict_on_batch(xs))
        logs[f"{prefix}accuracy"] = float((probs.argmax(axis=1) == ys).mean())
        logs[f"{prefix}loss"] = float(log_loss(ys, probs, labels=list(range(n_out))))
    monitor.history, monitor.best_epoch = [{"epoch": 1, **logs}], 1
    if progress:
        progress(TrainEvent("epoch", 1, 1, 1, 1, logs))
    return monitor


def clip_features(paths: list[Path], backbone: str, size: int, progress: ProgressHook | None = None) -> np.ndarray:
    """ImageNet backbone features (n, frames, 1280) of cached clips, encoded once (by the same encoder that
    teaching and evaluation use, models.encoders) and then read from disk."""
    report = None if progress is None else (
        lambda d, t: progress(TrainEvent("stage", batch=d, batches=t, message="encoding frames")))
    return cached_features(paths, frame_encoder(backbone, size), backbone, report)


def predict_paths(model: keras.Model, paths: list[Path], batch_size: int = 32) -> np.ndarray:
    """Output probabilities for cached clips, batch by batch (no per-clip predict). A model with a
    pretrained frame encoder reads its cached features and runs only its head."""
    parts = pretrained_parts(model)
    if parts is not None:
        encoder, head = parts
        feats = clip_features(paths, encoder.name.replace("_", "-"), int(encoder.input_shape[1]))
        out = [head.predict_on_batch(feats[i:i + batch_size]) for i in range(0, len(paths), batch_size)]
    else:
        out = [model.predict_on_batch(np.stack([load_cached(p) for p in paths[i:i + batch_size]]))
               for i in range(0, len(paths), batch_size)]
    return np.concatenate([np.asarray(o) for o in out]) if out else np.zeros((0, model.output_shape[-1]))


def evaluate(model: keras.Model, paths: list[Path], labels: list[int], classes: list[str]) -> Evaluation:
    return score_probs(predict_paths(model, paths), labels, classes)


def labelled(ex: ExtractResult, clips: list[Clip], classes: list[str]) -> tuple[list[Path], list[int]]:
    """Cache paths and class indices of `clips` (one part of a split), skipping clips that failed to extract."""
    where = {c.path: p for c, p in zip(ex.clips, ex.paths)}
    kept = [c for c in clips if c.path in where]
    return [where[c.path] for c in kept], [classes.index(c.label) for c in kept]


def training_caches(clips: list[Clip], config: TrainConfig, cache_dir: str | os.PathLike | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[ExtractResult, ExtractResult]:
    """The plain cache (validation, test, the figures we report) and the one training reads: the same
    sampler run `temporal` times finer when the augmentation jitters frames in time.

    Bad settings (an unknown augmentation, a size out of range) fail here, before minutes of extraction.
    """
    config = config.resolved()
    temporal, image_size = augment_named(config.augment).temporal, config.image_size
    plain = extract(clips, cache_dir, size=image_size, progress=progress)
    if temporal == 1:
        return plain, plain
    return plain, extract(clips, cache_dir, length=SEQUENCE_LENGTH * temporal, size=image_size, progress=progress)


@dataclass
class TrainJobResult:
    bundle_dir: Path
    meta: dict[str, Any]
    result: TrainResult
    evaluation: Evaluation | None


def outlier_clips(dirs: list[str | os.PathLike], known: list[str], image_size: int,
                  cache_dir: str | os.PathLike | None = None) -> tuple[list[Path], list[str]]:
    """Cached clips of every class in `dirs` that the model does not learn (a known class there is skipped),
    and each one's class name: the 'other' examples of an open-set head."""
    clips = [c for d in dirs for c in scan(d).clips if c.label not in known]
    if not clips:
        raise HarError("the outlier folders hold no clip of a class outside the model's classes")
    ex = extract(clips, cache_dir, size=image_size)
    return ex.paths, [c.label for c in ex.clips]


def train_and_save(
    data_dir: Roots,
    config: TrainConfig,
    out_dir: str | os.PathLike,
    classes: list[str] | None = None,
    val_groups: list[str] | None = None,
    test_groups: list[str] | None = None,
    test_fraction: float = 0.2,
    outlier_dirs: list[str] | None = None,
    overwrite: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressHook | None = None,
    cancel: threading.Event | None = None,
    command: str = "",
) -> TrainJobResult:
    """Scan, split by group, extract to the cache, train, score on held-out groups, save a bundle.

    With `outlier_dirs` the model also learns an 'other' output; its 'no known activity' threshold is set
    on the validation groups (95% of their known clips accepted) and checked on the test groups.
    """
    emit = progress or (lambda e: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise HarError(f"a model named {out_dir.name!r} already exists; choose another name")
    config = config.resolved()
    rec, arch, image_size = config.architecture, config.arch, config.image_size
    index = scan(data_dir).select(classes)
    classes = index.classes
    split: Split = split_for(index.clips, val_groups, test_groups, test_fraction=test_fraction, seed=config.seed)
    emit(TrainEvent("stage", message=f"extracting {len(index.clips)} clips"))
    ex, train_ex = training_caches(index.clips, config, cache_dir, progress=lambda d, t: emit(
        TrainEvent("stage", batch=d, batches=t, message="extracting clips")))
    outliers, outlier_labels = (outlier_clips(outlier_dirs, classes, image_size, cache_dir) if outlier_dirs
                                else ([], []))
    train_xy = labelled(train_ex, split.train, classes)
    val_xy, test_xy = (labelled(ex, part, classes) for part in (split.val, split.test))
    emit(TrainEvent("stage", message=f"training {arch} on {len(train_xy[0])} clips"))
    result = train(config, classes, train_xy, val_xy, progress=progress, cancel=cancel, outliers=outliers or None)
    val_probs = predict_paths(result.model, val_xy[0])
    val_eval = score_probs(val_probs, val_xy[1], classes)
    test_probs = predict_paths(result.model, test_xy[0]) if test_xy[0] else None
    test_eval = score_probs(test_probs, test_xy[1], classes) if test_probs is not None else None
    val_protocol = (f"{len(split.val)} validation clips ({split.fallback})" if split.fallback
                    else "validation groups " + ",".join(split.val_groups))
    metrics = {"validation": {"accuracy": val_eval.accuracy, "n": val_eval.n, "protocol": val_protocol,
                              "held_out_groups": list(split.val_groups)}}
    if test_eval is not None:
        metrics["test"] = {"accuracy": test_eval.accuracy, "n": test_eval.n, "per_class": test_eval.per_class,
                           "confusion": test_eval.confusion, "protocol": split.protocol,
                           "held_out_groups": list(split.test_groups)}
    meta = {
        "classes": classes,
        "architecture": arch,
        "parameters": int(result.model.count_params()),
        "sampler": ClipSampler(rec.frames, image_size).as_meta(),
        "training": {
            **result.settings, "epochs_run": len(result.history), "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early, "cancelled": result.cancelled,
            "seconds": round(result.seconds, 1), "command": command, "history": result.history,
        },
        "split": split.record(),
        "metrics": metrics,
        "data": {"roots": [str(r.resolve()) for r in as_roots(data_dir)], "clips": len(ex.clips),
                 "per_class": {c: n["clips"] for c, n in index.counts().items()},
                 "short_clips": [str(c.path.name) for c, _ in ex.short],
                 "failed_clips": [f"{c.path.name}: {msg}" for c, msg in ex.failed]},
    }
    if rec.backbone:
        from ..models.pretrained import backbone_record

        meta["backbone"] = backbone_record(rec.backbone, image_size)
    if outliers:
        threshold = threshold_for(known_score(val_probs, len(classes)))
        meta["open_set"] = {
            "score": "probability of the best known class (the 'other' output is the last one)",
            "other_output": True, "threshold": threshold,
            "protocol": f"threshold: {KNOWN_ACCEPT:.0%} of the validation groups' known clips accepted",
            "outlier_classes": sorted(set(outlier_labels)), "outlier_clips": len(outliers),
            "outlier_data": [str(Path(d).resolve()) for d in outlier_dirs or []],
        }
        if test_probs is not None:
            meta["open_set"]["test"] = {**rates(known_score(test_probs, len(classes)), None, threshold),
                                        "protocol": split.protocol + "; known clips only"}
    saved = bundle_mod.save_bundle(result.model, meta, out_dir, overwrite=overwrite)
    emit(TrainEvent("done", message=f"saved {saved}"))
    return TrainJobResult(saved, bundle_mod.read_meta(saved), result, test_eval)
