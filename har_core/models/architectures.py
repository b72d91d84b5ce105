"""The architectures one can train, each one record: the CLI, the Train page, training, crossval, model.json
and inference all read these fields instead of keeping their own copies.

To add an architecture: write its builder in `models.py` and add one `Architecture` here. Importing this
module does not import Keras (the CLI parses arguments and prints --help without it).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import HarError


@dataclass(frozen=True)
class Architecture:
    """What a model is and how it trains by default.

    `backbone` names a frozen ImageNet encoder applied to every frame: its features are computed once per
    clip and cached, and only the head trains (seconds instead of minutes). Without one the whole network
    trains on the uint8 clips. A "mean" head averages the frame features over `segments` consecutive,
    ordered parts of the clip (1: the whole clip; 4: beginning to end, so the order of events counts) and is
    convex (a logistic regression, one fit, no epochs); the others train by gradient descent with early
    stopping on the validation groups.
    """

    name: str
    title: str
    frames: int
    image_size: int
    preprocessing: str
    backbone: str | None
    head: str  # over the frames: "lstm" (LRCN), "mean" (average the frame features, then linear), "convlstm"
    epochs: int
    patience: int
    batch_size: int
    learning_rate: float
    sizes: tuple[int, ...]  # frame sides the Train page offers; the CLI's --size accepts any in range
    c: float | None = None  # a "mean" head is a logistic regression fitted by scikit-learn: its inverse L2 strength
    segments: int = 1  # a "mean" head's ordered parts of the clip; `frames` must divide by it
    centered: bool = False  # a "mean" head reads only how the segments differ from the clip's mean (motion)
    taught: bool = False  # learns only from examples (`teach`), never by `train` on a dataset split

    @property
    def trainable(self) -> bool:
        return not self.taught

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture(
        name="imagenet_segments_lite2",
        title="ImageNet EfficientNet-Lite2 frames, averaged over 4 ordered segments, linear head",
        frames=20, image_size=260, preprocessing="(x - 127.5) / 127.5 inside the model",
        backbone="efficientnet-lite2", head="mean", epochs=1, patience=1, batch_size=0, learning_rate=0.0,
        sizes=(260, 224), c=0.1, segments=4),
    Architecture(
        name="imagenet_motion_lite2",
        title="ImageNet EfficientNet-Lite2 frames, change over 4 ordered segments (scene removed), linear head",
        frames=20, image_size=260, preprocessing="(x - 127.5) / 127.5 inside the model",
        backbone="efficientnet-lite2", head="mean", epochs=1, patience=1, batch_size=0, learning_rate=0.0,
        sizes=(260, 224), c=0.1, segments=4, centered=True),
    Architecture(
        name="pose_motion", title="Body pose (BlazePose keypoints): how the arms move, linear head",
        frames=32, image_size=640, preprocessing="RGB frames, long side at most 640 px; BlazePose's own scaling",
        backbone=None, head="pose", epochs=1, patience=1, batch_size=0, learning_rate=0.0, sizes=(640,), c=0.03,
        taught=True),
    Architecture(
        name="imagenet_mean_lite2", title="ImageNet EfficientNet-Lite2 frames, averaged, linear head",
        frames=20, image_size=260, preprocessing="(x - 127.5) / 127.5 inside the model",
        backbone="efficientnet-lite2", head="mean", epochs=1, patience=1, batch_size=0, learning_rate=0.0,
        sizes=(260, 224), c=0.1),
    Architecture(
        name="imagenet_mean", title="ImageNet EfficientNet-Lite0 frames, averaged, linear head",
        frames=20, image_size=224, preprocessing="(x - 127.5) / 127.5 inside the model",
        backbone="efficientnet-lite0", head="mean", epochs=1, patience=1, batch_size=0, learning_rate=0.0,
        sizes=(224, 160), c=0.1),
    Architecture(
        name="lrcn_imagenet", title="LRCN on ImageNet EfficientNet-Lite0 frames (Donahue et al.)",
        frames=20, image_size=224, preprocessing="(x - 127.5) / 127.5 inside the model",
        backbone="efficientnet-lite0", head="lstm", epochs=150, patience=20, batch_size=32,
        learning_rate=1e-3, sizes=(224, 160)),
    Architecture(
        name="lrcn", title="LRCN, the paper's (CNN trained from scratch)",
        frames=20, image_size=64, preprocessing="x / 255 inside the model",
        backbone=None, head="lstm", epochs=50, patience=15, batch_size=4, learning_rate=1e-3, sizes=(64, 96, 128)),
    Architecture(
        name="convlstm", title="ConvLSTM, the paper's",
        frames=20, image_size=64, preprocessing="x / 255 inside the model",
        backbone=None, head="convlstm", epochs=50, patience=10, batch_size=4, learning_rate=1e-3, sizes=(64, 96, 128)),
)}
DEFAULT_ARCH = "imagenet_segments_lite2"  # the best 5-fold-over-groups mean on eleven classes (weights/README)
TRAINABLE = {name: a for name, a in ARCHITECTURES.items() if a.trainable}  # what `train` and the Train page offer


def architecture(name: str) -> Architecture:
    """The record for `name`, or a one-line error listing the choices."""
    if name not in ARCHITECTURES:
        raise HarError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
