"""The shared frame encoders: a frozen ImageNet backbone exported once to LiteRT and kept once per fingerprint,
beside the bundles in `weights/encoders/`, for every bundle that reads its features (the default model, Lite0's,
every taught model). A bundle names its encoder by backbone, frame size, fingerprint and sha256 in model.json;
the file is looked for beside the bundle, in the configured weights folder, in the shipped one and in the cache.

Each encoder file has a manifest (`<file>.json`): what the bundle records, so that teaching can write a bundle
for a shipped backbone without loading the backbone (and without TensorFlow).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..config import PROJECT_DIR, settings
from ..errors import HarError
from ..runtime.device import wanted_runtime
from ..runtime.litert import LiteModel

FOLDER = "encoders"  # in a weights folder: not a bundle
FRAME_BATCH = 8  # frames per encoder call: ~10 MB of activations a frame at 224 px keeps a server small


def file_name(backbone: str, size: int, fingerprint: str) -> str:
    return f"{backbone}-{int(size)}-{fingerprint}.tflite"


def search_dirs(near: Path | None = None) -> list[Path]:
    """Where encoder files are looked for, in order: beside a bundle, the configured weights folder, the shipped
    weights folder, the cache (encoders exported on this machine for bundles kept elsewhere)."""
    s = settings()
    dirs = ([near / FOLDER] if near is not None else []) + [s.weights_dir / FOLDER, PROJECT_DIR / "weights" / FOLDER,
                                                           s.cache_dir / FOLDER]
    return list(dict.fromkeys(d.resolve() for d in dirs))


@lru_cache(maxsize=16)
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    """A file's sha256, computed once per file version in a process."""
    st = path.stat()
    return _sha256(path.resolve(), st.st_size, st.st_mtime_ns)


def find(record: dict[str, Any], near: Path | None = None) -> Path | None:
    """The encoder file a bundle's record names, with the recorded sha256; None if no folder has it."""
    for folder in search_dirs(near):
        path = folder / str(record.get("file", ""))
        if path.is_file() and sha256(path) == record.get("sha256"):
            return path
    return None


def manifest(backbone: str, size: int, near: Path | None = None) -> dict[str, Any] | None:
    """The record of an exported encoder of `backbone` at `size` px, from its manifest, if one is stored."""
    for folder in search_dirs(near):
        for path in sorted(folder.glob(f"{backbone}-{int(size)}-*.tflite.json")):
            record = json.loads(path.read_text())
            if (folder / record["file"]).is_file():
                return record
    return None


def ensure(backbone: str, size: int, near: Path | None = None, into: Path | None = None) -> dict[str, Any]:
    """The record of the LiteRT encoder for `backbone` at `size` px: a stored one, else exported now (TensorFlow)
    into the weights folder `into` (`python -m har_core export`), or by default this machine's cache."""
    found = manifest(backbone, size, near)
    if found is not None:
        return found
    from .export import encoder_tflite  # TensorFlow, only for a backbone size no one exported yet

    folder = (into / FOLDER) if into is not None else settings().cache_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    data, record = encoder_tflite(backbone, size)
    name = file_name(backbone, size, record["fingerprint"])
    write_atomic(folder / name, data)
    record = {**record, "file": name, "sha256": sha256(folder / name), "bytes": len(data)}
    write_atomic(folder / f"{name}.json", (json.dumps(record, indent=2) + "\n").encode())
    return record


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (a temporary sibling, then one rename), with the user's usual mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SharedEncoder:
    """One LiteRT encoder file, loaded once per process and shared by every bundle and teaching run that uses it
    (its own lock: two sessions' bundles may share it)."""

    def __init__(self, path: Path):
        self.model = LiteModel(path)
        self.lock = threading.Lock()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Features (n, D) float32 of uint8 RGB frames (n, size, size, 3), FRAME_BATCH at a time."""
        out = []
        for i in range(0, len(frames), FRAME_BATCH):
            with self.lock:
                out.append(self.model.run(frames[i:i + FRAME_BATCH]).astype("float32"))
        return np.concatenate(out) if out else np.zeros((0, 0), "float32")


@lru_cache(maxsize=8)
def _load(path: Path, mtime_ns: int) -> SharedEncoder:
    return SharedEncoder(path)


def load(path: Path) -> SharedEncoder:
    """The process's shared encoder for this file (reloaded only when the file changes)."""
    return _load(path.resolve(), path.stat().st_mtime_ns)


class KerasEncoder:
    """The same backbone in Keras, for a machine that predicts with Keras (a GPU): `encode` as SharedEncoder's."""

    def __init__(self, backbone: str, size: int):
        from .pretrained import load_backbone

        self.model = load_backbone(backbone, size)
        self.lock = threading.Lock()

    def encode(self, frames: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(frames), FRAME_BATCH):
            with self.lock:
                out.append(np.asarray(self.model.predict_on_batch(frames[i:i + FRAME_BATCH]), dtype="float32"))
        return np.concatenate(out) if out else np.zeros((0, 0), "float32")


def frame_encoder(backbone: str, size: int) -> SharedEncoder | KerasEncoder:
    """The encoder of a backbone for cached features (training, teaching, evaluation), on the runtime this
    machine predicts with (runtime.device): LiteRT's and Keras's features agree within 1e-4."""
    if wanted_runtime() == "keras":
        return KerasEncoder(backbone, size)
    record = ensure(backbone, size)
    path = find(record)
    if path is None:
        raise HarError(f"the {backbone} encoder file {record['file']} is missing or changed")
    return load(path)
