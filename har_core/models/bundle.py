"""Model bundles: a folder with `model.keras` and `model.json`, written atomically, validated on load.

model.json records everything needed to use the model correctly and to judge its numbers: classes,
sampler settings, colour order, architecture, training settings, metrics each with its protocol and
held-out groups, data provenance and library versions.
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import HarError
from ..media.sampling import ClipSampler

if TYPE_CHECKING:  # the predictor builds Keras models: read_meta and listing stay free of TensorFlow
    from .predictor import Predictor

FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
META_FILE = "model.json"
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Temp and old folder names of saves running in this process: recover_interrupted must not touch them.
_SAVING: set[str] = set()
_SAVING_LOCK = threading.Lock()


def library_versions() -> dict[str, str]:
    import cv2

    from ..quiet import keras

    return {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def check_name(name: str) -> str:
    """A bundle name chosen by a user: letters, digits, '_', '-', '.'; never a path."""
    if not _NAME_OK.fullmatch(name or "") or ".." in name:
        raise HarError("a model name uses letters, digits, '_', '-' and '.' only (at most 64), not a path")
    return name


def save_bundle(model: Any, meta: dict[str, Any], out_dir: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write a bundle atomically: a complete sibling folder is swapped in, the old one kept until then."""
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise HarError(f"a model named {out.name!r} already exists; choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": library_versions(),
        **meta,
    }
    _validate_meta(meta, out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    with _SAVING_LOCK:
        _SAVING.update({tmp.name, old.name})
    try:
        model.save(tmp / MODEL_FILE)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        with _SAVING_LOCK:
            _SAVING.difference_update({tmp.name, old.name})
    return out


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a crashed writer's leftovers may be cleaned up, a live one's not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _save_in_progress(name: str, pid: int) -> bool:
    """Whether temp/old folder `name` belongs to a save still running (here, or in a live process)."""
    if pid == os.getpid():
        with _SAVING_LOCK:
            return name in _SAVING
    return pid_alive(pid)


def recover_interrupted(weights_dir: str | os.PathLike) -> list[str]:
    """Undo what a crash between the two renames of save_bundle left: put old bundles back, drop temps."""
    root = Path(weights_dir)
    restored: list[str] = []
    if not root.is_dir():
        return restored
    for p in root.iterdir():
        m = re.match(r"^\.(.+)\.(old|tmp)-(?:(\d+)(?:-|$))?", p.name)
        if not m or (m.group(3) and _save_in_progress(p.name, int(m.group(3)))):
            continue
        target = root / m.group(1)
        if m.group(2) == "old" and not target.exists():
            os.replace(p, target)
            restored.append(target.name)
        else:
            shutil.rmtree(p, ignore_errors=True)
    return restored


def _validate_meta(meta: dict[str, Any], where: Path) -> None:
    classes = meta.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise HarError(f"bundle {where.name}: model.json needs 'classes', a list of at least two names")
    sampler = meta.get("sampler")
    if not isinstance(sampler, dict) or not {"sequence_length", "image_size", "color_order"} <= sampler.keys():
        raise HarError(f"bundle {where.name}: model.json needs 'sampler' with sequence_length, image_size, color_order")
    if sampler["color_order"] != "RGB":
        raise HarError(f"bundle {where.name}: colour order {sampler['color_order']!r} is not supported")
    try:
        ClipSampler.from_meta(sampler)
    except (TypeError, ValueError) as exc:
        raise HarError(f"bundle {where.name}: model.json's sampler cannot be read: {exc}") from None
    if not isinstance(meta.get("architecture"), str):
        raise HarError(f"bundle {where.name}: model.json needs 'architecture'")


def read_meta(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """model.json of a bundle, validated; cheap (no TensorFlow) for listing models."""
    d = Path(bundle_dir)
    if not d.is_dir():
        raise HarError(f"no model bundle at {d}")
    meta_path, model_path = d / META_FILE, d / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise HarError(f"bundle {d.name} is incomplete: it needs {MODEL_FILE} and {META_FILE}")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarError(f"bundle {d.name}: model.json is corrupt ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise HarError(f"bundle {d.name}: model.json is corrupt (not an object)")
    _validate_meta(meta, d)
    return meta


@dataclass
class ModelBundle:
    """A loaded model with its metadata and its `predictor` (predictor.py), through which every prediction
    goes, serialised across threads and sessions."""

    path: Path
    model: Any
    meta: dict[str, Any]
    predictor: Predictor = field(repr=False)

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @cached_property
    def sampler(self) -> ClipSampler:
        """How this model's inputs are sampled (model.json's "sampler"; read once, the meta is not changed)."""
        return ClipSampler.from_meta(self.meta["sampler"])

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def threshold(self) -> float | None:
        """Best-known-class probability below which a clip is 'no known activity' (None: no open set)."""
        value = (self.meta.get("open_set") or {}).get("threshold")
        return None if value is None else float(value)


def load_bundle(bundle_dir: str | os.PathLike) -> ModelBundle:
    """Load and cross-check a bundle: the model's input and output must match model.json."""
    from ..quiet import keras
    from . import activations  # noqa: F401  (an imported Keras 2 model may use its hard sigmoid)

    d = Path(bundle_dir)
    meta = read_meta(d)
    try:
        model = keras.saving.load_model(d / MODEL_FILE, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise HarError(f"bundle {d.name}: {MODEL_FILE} cannot be loaded ({exc.__class__.__name__})") from None
    s = meta["sampler"]
    want_in = (s["sequence_length"], s["image_size"], s["image_size"], 3)
    got_in, got_out = tuple(model.input_shape[1:]), model.output_shape[-1]
    if got_in != want_in:
        raise HarError(f"bundle {d.name} is inconsistent: model takes {got_in}, model.json says {want_in}")
    outputs = len(meta["classes"]) + (1 if (meta.get("open_set") or {}).get("other_output") else 0)
    if got_out != outputs:
        raise HarError(f"bundle {d.name} is inconsistent: {got_out} outputs for {len(meta['classes'])} classes")
    if meta.get("backbone"):
        _check_backbone(model, meta["backbone"], d.name)
    from .predictor import Predictor

    return ModelBundle(path=d, model=model, meta=meta, predictor=Predictor(model, got_out))


def _check_backbone(model: Any, record: dict[str, Any], name: str) -> None:
    """A pretrained bundle's frame encoder must be the backbone its model.json names, unchanged."""
    from .pretrained import LITE0, LITE2, fingerprint

    try:
        encoder = model.get_layer("frame_encoder").layer
    except (ValueError, AttributeError):
        raise HarError(f"bundle {name}: model.json names backbone {record.get('name')!r}, the model has none") from None
    if record.get("name") not in (LITE0, LITE2) or encoder.name != str(record["name"]).replace("-", "_"):
        raise HarError(f"bundle {name}: backbone {record.get('name')!r} is not the model's {encoder.name} or not "
                       f"one this version reads ({LITE0}, {LITE2})")
    if tuple(encoder.input_shape[1:3]) != (record.get("image_size"),) * 2:
        raise HarError(f"bundle {name}: its backbone reads {encoder.input_shape[1]} px, model.json says "
                       f"{record.get('image_size')}")
    if fingerprint(encoder) != record.get("fingerprint"):
        raise HarError(f"bundle {name}: its backbone weights are not the ImageNet weights model.json records "
                       "(fingerprint differs)")


@dataclass(frozen=True)
class BundleListing:
    """A bundle found under weights/: its metadata, or why it could not be read."""

    name: str
    path: Path
    meta: dict[str, Any] | None
    error: str | None


def list_bundles(weights_dir: str | os.PathLike) -> list[BundleListing]:
    """Every bundle folder under `weights_dir`; a broken one is reported, the others still listed."""
    root = Path(weights_dir)
    recover_interrupted(root)
    out: list[BundleListing] = []
    if not root.is_dir():
        return out
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            out.append(BundleListing(d.name, d, read_meta(d), None))
        except HarError as exc:
            out.append(BundleListing(d.name, d, None, str(exc)))
    return out
