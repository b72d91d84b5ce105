"""Training-time clip augmentation: what a model fits changes every epoch, what it is scored on never does.

With groups held out, the paper's networks memorise their training scenes within ten epochs (training
accuracy 1.0, validation falling). Each augmentation here makes one training clip look like many:
- temporal jitter: the cache holds `temporal` candidate frames per sampled frame (a finer run of the same
  sampler), and each epoch picks one per slot, so the frames differ while their spacing stays the same;
- zoom: one random square crop per clip (side between `zoom` and 1 of the frame) resized back, so the
  subject's size and place vary as they do between camera operators;
- colour: one random contrast and brightness change per clip, as between cameras and lighting;
- flip: a mirrored clip (none of these actions has a handedness that matters).
Validation, test and prediction always see the plain sampler's frames.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from ..errors import HarError


@dataclass(frozen=True)
class Augment:
    flip: bool = False
    zoom: float = 1.0
    color: float = 0.0
    temporal: int = 1

    def __post_init__(self) -> None:
        if not 0.3 <= self.zoom <= 1.0 or not 0.0 <= self.color < 1.0 or self.temporal < 1:
            raise HarError(f"augmentation out of range: {self}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pick_frames(self, cached: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One frame per slot from a cache of `temporal` consecutive candidates per slot."""
        if self.temporal == 1:
            return cached
        slots = len(cached) // self.temporal
        return cached[np.arange(slots) * self.temporal + rng.integers(0, self.temporal, size=slots)]

    def __call__(self, clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A new uint8 clip (frames, h, w, 3) drawn from `clip`; `clip` itself is left as it was."""
        clip = self.pick_frames(clip, rng)
        h, w = clip.shape[1:3]
        if self.zoom < 1.0:
            side = rng.uniform(self.zoom, 1.0)
            ch, cw = max(1, round(h * side)), max(1, round(w * side))
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            clip = np.stack([cv2.resize(f[y:y + ch, x:x + cw], (w, h), interpolation=cv2.INTER_LINEAR)
                             for f in clip])
        if self.color > 0.0:
            contrast = rng.uniform(1.0 - self.color, 1.0 + self.color)
            brightness = rng.uniform(-self.color, self.color) * 255.0
            mean = clip.mean(dtype=np.float32)
            clip = np.clip((clip - mean) * contrast + mean + brightness, 0, 255).astype(np.uint8)
        if self.flip and rng.random() < 0.5:
            clip = clip[:, :, ::-1]
        return np.ascontiguousarray(clip)


AUGMENTS: dict[str, Augment] = {
    "none": Augment(),
    "flip": Augment(flip=True),
    "full": Augment(flip=True, zoom=0.7, color=0.25, temporal=2),
}
AUGMENT_LABELS = {
    "none": "none (the paper's)",
    "flip": "horizontal flips",
    "full": "flips, crops, colour and temporal jitter",
}


def augment_named(name: str) -> Augment:
    if name not in AUGMENTS:
        raise HarError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTS)}")
    return AUGMENTS[name]


def record(name: str) -> dict[str, Any]:
    """How model.json and a cross-validation's settings record an augmentation: the preset and its values."""
    return {"name": name, **augment_named(name).as_dict()}


def recorded(meta: dict[str, Any]) -> str | None:
    """The preset a bundle's model.json says it was trained with; None where it was not recorded."""
    return ((meta.get("training") or {}).get("augment") or {}).get("name")
