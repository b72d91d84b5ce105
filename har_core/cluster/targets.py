"""What a model reads of each clip, and where the cache keeps it: the folders a local run uses, relative to the
cache root, so that a cluster worker writes exactly the files `train`, `evaluate` and `teach` look for."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import SEQUENCE_LENGTH
from ..datasets.dataset import cache_dir_for
from ..errors import HarError
from ..learning.features import features_dir, keypoints_dir
from ..learning.teach import clip_sampler
from ..media.sampling import ClipSampler
from ..models import encoders
from ..models.bundle import read_meta
from ..models.registry import default_model_dir


@dataclass(frozen=True)
class Targets:
    """A model's cached inputs: uint8 clips (`size` px, `length` frames) and the features of its frozen
    `backbone` (with the shared encoder's record, which names the file and its sha256), or body keypoints
    sampled by `pose` (model.json's sampler record). Picklable: it travels to every worker."""

    model: str
    size: int | None
    length: int = SEQUENCE_LENGTH
    backbone: str | None = None
    encoder: dict[str, Any] | None = None
    pose: dict[str, Any] | None = None

    @property
    def clips(self) -> str | None:
        return None if self.size is None else cache_dir_for(Path(), self.length, self.size).as_posix()

    @property
    def features(self) -> str | None:
        if self.clips is None or self.backbone is None:
            return None
        return features_dir(Path(self.clips) / "x.npz", self.backbone).as_posix()

    @property
    def keypoints(self) -> str | None:
        return None if self.pose is None else keypoints_dir(Path(), ClipSampler.from_meta(self.pose)).as_posix()

    @property
    def folders(self) -> list[str]:
        return [f for f in (self.clips, self.features, self.keypoints) if f]

    def files(self, key: str) -> dict[str, str]:
        """The cache file of each output for a clip whose cache key is `key`."""
        return {**({"clip": f"{self.clips}/{key}.npz"} if self.clips else {}),
                **({"features": f"{self.features}/{key}.npy"} if self.features else {}),
                **({"keypoints": f"{self.keypoints}/{key}.npy"} if self.keypoints else {})}


def targets_for(model_dir: str | None, pose: bool = False) -> Targets:
    """What the bundle at `model_dir` (default: the default model) reads, plus body keypoints for teaching
    the motion kind when `pose`. A frozen backbone needs its LiteRT encoder stored (weights/encoders), since
    workers never run TensorFlow."""
    folder = Path(model_dir) if model_dir else default_model_dir()
    meta = read_meta(folder)
    if meta.get("pose"):
        return Targets(folder.name, None, pose=meta["sampler"])
    backbone = meta.get("backbone") or None
    record = None
    if backbone:
        record = encoders.manifest(backbone["name"], int(backbone["image_size"]), folder.parent)
        if record is None:
            raise HarError(f"no stored {backbone['name']} encoder at {backbone['image_size']} px for {folder.name}: "
                           "run `python -m har_core export` on it first")
    size = int(meta["sampler"]["image_size"])
    return Targets(folder.name, size, backbone=backbone["name"] if backbone else None, encoder=record,
                   pose=clip_sampler("motion").as_meta() if pose else None)
