"""How a model trains, as one record: built by the Train page or the command line, carried unchanged by the
job, training and cross-validation, and written to model.json. Defaults live in one place: a setting left
None takes the architecture's (architectures.py).

To add a training option: a field here, what `record` writes of it, and where `training.train` reads it.
Importing this module does not import Keras.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..datasets.augment import AUGMENTS
from ..datasets.augment import record as augment_record
from ..errors import HarError
from ..models.architectures import DEFAULT_ARCH, Architecture, architecture

MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 48, 320  # frame sides a model may read; 64 is the paper's, 260 Lite2's


@dataclass(frozen=True)
class TrainConfig:
    arch: str = DEFAULT_ARCH
    epochs: int | None = None  # most epochs (gradient heads stop early on the validation groups)
    batch_size: int | None = None
    patience: int | None = None  # epochs without a better validation loss before stopping
    seed: int = 27
    augment: str = "none"  # augment.AUGMENTS; pretrained heads train on features of the plain clips
    image_size: int | None = None  # frame side in pixels

    @property
    def architecture(self) -> Architecture:
        return architecture(self.arch)

    def resolved(self) -> "TrainConfig":
        """Every None replaced by the architecture's default, and checked: a bad setting fails here, before
        minutes of extraction, as one line."""
        rec = self.architecture
        if not rec.trainable:
            raise HarError(f"{rec.name} learns from a few examples, not by training: python -m har_core teach "
                           "--kind motion (or the Teach page)")

        def given(value: int | None, default: int) -> int:
            return default if value is None else value

        out = replace(self, epochs=given(self.epochs, rec.epochs), batch_size=given(self.batch_size, rec.batch_size),
                      patience=given(self.patience, rec.patience), image_size=given(self.image_size, rec.image_size))
        if out.epochs < 1 or (rec.head != "mean" and out.batch_size < 1) or out.patience < 1:
            raise HarError("epochs, batch size and patience must be at least 1")
        if not MIN_IMAGE_SIZE <= out.image_size <= MAX_IMAGE_SIZE:
            raise HarError(f"input size {out.image_size} is out of range: choose {MIN_IMAGE_SIZE} to "
                           f"{MAX_IMAGE_SIZE} pixels")
        if out.augment not in AUGMENTS:
            raise HarError(f"unknown augmentation {out.augment!r}; choose from {', '.join(AUGMENTS)}")
        if rec.backbone and out.augment != "none":
            raise HarError(f"{out.arch} trains its head on cached features of the plain clips: use --augment none")
        return out

    def record(self) -> dict[str, Any]:
        """model.json's "training" settings: this record resolved, plus what the architecture fixes."""
        c, rec = self.resolved(), self.architecture
        out: dict[str, Any] = {"architecture": c.arch, "epochs_max": c.epochs, "batch_size": c.batch_size,
                               "patience": c.patience, "seed": c.seed, "optimizer": "adam",
                               "learning_rate": rec.learning_rate, "augment": augment_record(c.augment),
                               "image_size": c.image_size, "head": rec.head}
        if rec.backbone:
            out["class_weight"] = "balanced"
        if rec.backbone and rec.head == "mean":
            out.update(c=rec.c, segments=rec.segments, centered=rec.centered)
        return out
