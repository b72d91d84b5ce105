"""Training with early stopping, best weights, progress events and cooperative cancel; evaluation.

Clips stream from the uint8 cache batch by batch (a keras PyDataset), so memory stays flat however
large the dataset is. `train_and_save` is the whole pipeline the CLI and the Train page run.
"""
from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np

from . import bundle as bundle_mod
from .augment import Augment, augment_named, record
from .config import IMAGE_SIZE, SEQUENCE_LENGTH
from .dataset import Clip, ExtractResult, extract, load_cached, scan
from .errors import HarError
from .models import PAPER_PATIENCE, build
from .splits import Split, split_by_groups

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 48, 256  # frame sides --size accepts; 64 is the paper's


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


def train(
    arch: str,
    classes: list[str],
    train_data: tuple[list[Path], list[int]],
    val_data: tuple[list[Path], list[int]],
    epochs: int = 50,
    batch_size: int = 4,
    patience: int | None = None,
    seed: int = 27,
    learning_rate: float = 1e-3,
    augment: str = "none",
    image_size: int = IMAGE_SIZE,
    progress: ProgressHook | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Fit `arch` on cached clips; the returned model holds the best validation weights seen.

    `train_data` comes from the cache `training_caches` made for this `augment` (with temporal jitter it
    holds several candidate frames per slot); `val_data` from the plain one.

    A cancel (the event set from any thread) stops after the current batch and still returns the best
    weights so far; with no finished epoch there are none, and that is an error.
    """
    if not train_data[0] or not val_data[0]:
        raise HarError("training needs clips in both the training and the validation groups")
    keras.utils.set_random_seed(seed)
    patience = patience if patience is not None else PAPER_PATIENCE.get(arch, 10)
    model = build(arch, len(classes), SEQUENCE_LENGTH, image_size)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    train_seq = ClipSequence(*train_data, batch_size=batch_size, shuffle=True, seed=seed,
                             augment=augment_named(augment))
    val_seq = ClipSequence(*val_data, batch_size=max(batch_size, 16), shuffle=False)
    monitor = _Monitor(epochs, len(train_seq), patience, progress, cancel)
    start = time.perf_counter()
    model.fit(train_seq, validation_data=val_seq, epochs=epochs, callbacks=[monitor], verbose=0)
    if monitor.best_weights is None:
        raise HarError("training was cancelled before the first epoch finished: no weights to keep")
    model.set_weights(monitor.best_weights)
    return TrainResult(model, monitor.history, monitor.best_epoch, monitor.stopped_early, monitor.cancelled,
                       time.perf_counter() - start)


@dataclass
class Evaluation:
    accuracy: float
    n: int
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    classes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def predict_paths(model: keras.Model, paths: list[Path], batch_size: int = 32) -> np.ndarray:
    """Class probabilities for cached clips, batch by batch (no per-clip predict)."""
    out = [model.predict_on_batch(np.stack([load_cached(p) for p in paths[i:i + batch_size]]))
           for i in range(0, len(paths), batch_size)]
    return np.concatenate([np.asarray(o) for o in out]) if out else np.zeros((0, model.output_shape[-1]))


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


def evaluate(model: keras.Model, paths: list[Path], labels: list[int], classes: list[str]) -> Evaluation:
    probs = predict_paths(model, paths)
    return score(np.asarray(labels), probs.argmax(axis=1), classes)


def labelled(ex: ExtractResult, clips: list[Clip], classes: list[str]) -> tuple[list[Path], list[int]]:
    """Cache paths and class indices of `clips` (one part of a split), skipping clips that failed to extract."""
    where = {c.path: p for c, p in zip(ex.clips, ex.paths)}
    kept = [c for c in clips if c.path in where]
    return [where[c.path] for c in kept], [classes.index(c.label) for c in kept]


def check_image_size(size: int) -> None:
    """Frame side the model reads: 64 is the paper's; larger shows more detail at a higher cost."""
    if not MIN_IMAGE_SIZE <= size <= MAX_IMAGE_SIZE:
        raise HarError(f"input size {size} is out of range: choose {MIN_IMAGE_SIZE} to {MAX_IMAGE_SIZE} pixels")


def training_caches(clips: list[Clip], augment: str, cache_dir: str | os.PathLike | None = None,
                    progress: Callable[[int, int], None] | None = None,
                    image_size: int = IMAGE_SIZE) -> tuple[ExtractResult, ExtractResult]:
    """The plain cache (validation, test, the figures we report) and the one training reads: the same
    sampler run `temporal` times finer when the augmentation jitters frames in time.

    Bad settings (an unknown augmentation, a size out of range) fail here, before minutes of extraction.
    """
    temporal = augment_named(augment).temporal
    check_image_size(image_size)
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


def train_and_save(
    data_dir: str | os.PathLike,
    arch: str,
    out_dir: str | os.PathLike,
    classes: list[str] | None = None,
    epochs: int = 50,
    batch_size: int = 4,
    patience: int | None = None,
    seed: int = 27,
    val_groups: list[str] | None = None,
    test_groups: list[str] | None = None,
    test_fraction: float = 0.2,
    augment: str = "none",
    image_size: int = IMAGE_SIZE,
    overwrite: bool = True,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressHook | None = None,
    cancel: threading.Event | None = None,
    command: str = "",
) -> TrainJobResult:
    """Scan, split by group, extract to the cache, train, score on held-out groups, save a bundle."""
    emit = progress or (lambda e: None)
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise HarError(f"a model named {out_dir.name!r} already exists; choose another name")
    index = scan(data_dir).select(classes)
    classes = index.classes
    split: Split = split_by_groups(index.clips, val_groups, test_groups, test_fraction=test_fraction, seed=seed)
    emit(TrainEvent("stage", message=f"extracting {len(index.clips)} clips"))
    ex, train_ex = training_caches(index.clips, augment, cache_dir, progress=lambda d, t: emit(
        TrainEvent("stage", batch=d, batches=t, message="extracting clips")), image_size=image_size)
    train_xy = labelled(train_ex, split.train, classes)
    val_xy, test_xy = (labelled(ex, part, classes) for part in (split.val, split.test))
    emit(TrainEvent("stage", message=f"training {arch} on {len(train_xy[0])} clips"))
    result = train(arch, classes, train_xy, val_xy, epochs, batch_size, patience, seed, augment=augment,
                   image_size=image_size, progress=progress, cancel=cancel)
    val_eval = evaluate(result.model, *val_xy, classes)
    test_eval = evaluate(result.model, *test_xy, classes) if test_xy[0] else None
    metrics = {"validation": {"accuracy": val_eval.accuracy, "n": val_eval.n, "protocol": "validation groups "
                              + ",".join(split.val_groups), "held_out_groups": list(split.val_groups)}}
    if test_eval is not None:
        metrics["test"] = {"accuracy": test_eval.accuracy, "n": test_eval.n, "per_class": test_eval.per_class,
                           "confusion": test_eval.confusion, "protocol": split.protocol,
                           "held_out_groups": list(split.test_groups)}
    meta = {
        "classes": classes,
        "architecture": arch,
        "parameters": int(result.model.count_params()),
        "sampler": bundle_mod.sampler_meta(image_size=image_size),
        "training": {
            "epochs_max": epochs, "epochs_run": len(result.history), "best_epoch": result.best_epoch,
            "batch_size": batch_size, "patience": patience if patience is not None else PAPER_PATIENCE.get(arch),
            "seed": seed, "optimizer": "adam", "learning_rate": 1e-3,
            "augment": record(augment),
            "stopped_early": result.stopped_early, "cancelled": result.cancelled,
            "seconds": round(result.seconds, 1), "command": command, "history": result.history,
        },
        "split": {"train_groups": sorted({c.group for c in split.train}), "val_groups": list(split.val_groups),
                  "test_groups": list(split.test_groups)},
        "metrics": metrics,
        "data": {"root": str(Path(data_dir).resolve()), "clips": len(ex.clips),
                 "short_clips": [str(c.path.name) for c, _ in ex.short],
                 "failed_clips": [f"{c.path.name}: {msg}" for c, msg in ex.failed]},
    }
    saved = bundle_mod.save_bundle(result.model, meta, out_dir, overwrite=overwrite)
    emit(TrainEvent("done", message=f"saved {saved}"))
    return TrainJobResult(saved, bundle_mod.read_meta(saved), result, test_eval)
