"""Model bundles: a folder with `model.json` and the files that predict, written atomically, validated on load.

model.json records everything needed to use the model correctly and to judge its numbers: classes,
sampler settings, colour order, architecture, training settings, metrics each with its protocol and
held-out groups, data provenance and library versions, and ("litert") the files LiteRT predicts with.

A bundle holds `model.keras` (the whole network, for further training, other Keras backends and GPUs) and what
LiteRT needs (models.export): `head.npz` or `.tflite` files, and the name and sha256 of a shared encoder kept
once in `<weights>/encoders/`. A taught bundle holds only its head: its Keras model is built from head and
backbone when someone asks for it. Prediction runs on LiteRT unless a GPU is here, HAR_RUNTIME says keras, or
the bundle's LiteRT files cannot be used (then `runtime_note` says why and Keras runs).
"""
from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HarError
from ..media.sampling import ClipSampler
from ..runtime.device import wanted_runtime
from . import encoders
from .heads import HEAD_FILE, LinearHead, PoseHead
from .predictor import KerasPredictor, LitePredictor, Predictor

FORMAT_VERSION = 2  # 2: LiteRT files and the "litert" record; 1 (model.keras only) still loads, on Keras
MODEL_FILE = "model.keras"
META_FILE = "model.json"
RESERVED = (encoders.FOLDER, "pose")  # folders of a weights folder that are not bundles
TOLERANCE = 1e-4  # LiteRT against Keras: the largest probability difference an export may show
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Temp and old folder names of saves running in this process: recover_interrupted must not touch them.
_SAVING: set[str] = set()
_SAVING_LOCK = threading.Lock()


def library_versions() -> dict[str, str]:
    """The versions that made a bundle, from package metadata (teaching must not import Keras to say this)."""
    from importlib.metadata import PackageNotFoundError, version

    import cv2

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    keras = sys.modules.get("keras")
    return {
        "python": platform.python_version(),
        "keras": installed("keras"),
        "keras_backend": keras.backend.backend() if keras else os.environ.get("KERAS_BACKEND", "tensorflow"),
        "ai_edge_litert": installed("ai-edge-litert"),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
    }


def check_name(name: str) -> str:
    """A bundle name chosen by a user: letters, digits, '_', '-', '.'; never a path, never a reserved folder."""
    if not _NAME_OK.fullmatch(name or "") or ".." in name:
        raise HarError("a model name uses letters, digits, '_', '-' and '.' only (at most 64), not a path")
    if name in RESERVED:
        raise HarError(f"{name!r} is a folder the weights folder keeps for itself; choose another name")
    return name


def save_bundle(model: Any, meta: dict[str, Any], out_dir: str | os.PathLike, overwrite: bool = True,
                head: LinearHead | PoseHead | None = None) -> Path:
    """Write a bundle atomically: a complete sibling folder is swapped in, the old one kept until then.

    With a Keras `model`: model.keras and its LiteRT files (or, in model.json, why there are none). With only a
    `head` and no model (teaching): head.npz, reading the stored encoder its "backbone" names (a linear head) or
    the body-pose models its "pose" names; no TensorFlow.
    """
    out = Path(out_dir)
    if out.exists() and not overwrite:
        raise HarError(f"a model named {out.name!r} already exists; choose another name")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": library_versions(),
            **{k: v for k, v in meta.items() if k not in ("format_version", "saved_at", "versions", "litert")}}
    _validate_meta(meta, out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    with _SAVING_LOCK:
        _SAVING.update({tmp.name, old.name})
    try:
        if model is not None:
            model.save(tmp / MODEL_FILE)
        meta["litert"] = _write_litert(model, head, meta, tmp, out.parent)
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


def _write_litert(model: Any, head: LinearHead | PoseHead | None, meta: dict[str, Any], folder: Path,
                  near: Path) -> dict[str, Any]:
    """The LiteRT files of a bundle, written into `folder`; model.json's "litert" record, or why there is none."""
    if model is None and isinstance(head, PoseHead):
        head.save(folder / HEAD_FILE)
        return {"pose": meta["pose"]["models"], "head": {"file": HEAD_FILE, "kind": "pose"}}
    if model is None:
        backbone = meta.get("backbone") or {}
        shared = encoders.manifest(str(backbone.get("name")), int(backbone.get("image_size") or 0), near)
        if head is None or shared is None or shared["fingerprint"] != backbone.get("fingerprint"):
            raise HarError("a bundle without a Keras model needs a linear head and the stored encoder of its "
                           "backbone")
        head.save(folder / HEAD_FILE)
        return {"encoder": {"shared": shared}, "head": {"file": HEAD_FILE, "kind": "linear"}}
    try:
        return _exported(model, meta, folder, near, None)
    except HarError as exc:
        return {"error": str(exc)}


def _exported(model: Any, meta: dict[str, Any], folder: Path, near: Path, encoders_into: Path | None) -> dict[str, Any]:
    """Export a Keras model's LiteRT files into `folder` (TensorFlow: a Keras model is loaded already) and check
    them: LiteRT must give Keras's probabilities within TOLERANCE on random clips, or they are not the model."""
    from .export import write_litert

    backbone = meta.get("backbone")
    shared = encoders.ensure(backbone["name"], int(backbone["image_size"]), near, encoders_into) if backbone else None
    record = write_litert(model, folder, shared)
    s = meta["sampler"]
    clips = np.random.default_rng(0).integers(0, 256, (2, s["sequence_length"], s["image_size"], s["image_size"], 3),
                                              dtype=np.uint8)
    # Keras eagerly: predict_on_batch would trace the whole network once more (~20 s for a Lite2 model)
    diff = float(np.abs(LitePredictor.from_record(record, folder, meta, near).clips(clips)
                        - np.asarray(model(clips, training=False))).max())
    if not diff <= TOLERANCE:
        raise HarError(f"LiteRT's probabilities differ from Keras's by {diff:.1e} (more than {TOLERANCE:g})")
    return {**record, "max_abs_diff": diff}


def add_litert(bundle_dir: str | os.PathLike) -> dict[str, Any]:
    """Write (again) the LiteRT files of a saved bundle from its Keras model, any missing shared encoder beside
    the bundle (`python -m har_core export`); model.json is rewritten last, in one rename."""
    d = Path(bundle_dir)
    meta = read_meta(d)
    model = load_bundle(d, runtime="keras").model
    record = _exported(model, meta, d, d.parent, d.parent)
    meta = {**meta, "format_version": FORMAT_VERSION, "litert": record}
    encoders.write_atomic(d / META_FILE, (json.dumps(meta, indent=2, sort_keys=False) + "\n").encode())
    return record


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
    meta_path = d / META_FILE
    if not meta_path.is_file():
        raise HarError(f"bundle {d.name} is incomplete: it has no {META_FILE}")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HarError(f"bundle {d.name}: model.json is corrupt ({exc.__class__.__name__})") from None
    if not isinstance(meta, dict):
        raise HarError(f"bundle {d.name}: model.json is corrupt (not an object)")
    if not (d / MODEL_FILE).is_file() and not _lite_files(meta, d):
        raise HarError(f"bundle {d.name} is incomplete: it needs {MODEL_FILE} or the LiteRT files model.json names")
    _validate_meta(meta, d)
    return meta


def _lite_files(meta: dict[str, Any], d: Path) -> bool:
    """Whether the files of model.json's "litert" record are in the bundle (a shared encoder is elsewhere)."""
    record = meta.get("litert")
    if not isinstance(record, dict) or "error" in record or not record:
        return False
    own = [part.get("file") for part in (record.get("clip"), record.get("head"), record.get("encoder"))
           if isinstance(part, dict) and "file" in part]
    return bool(own) and all((d / str(name)).is_file() for name in own)


@dataclass
class ModelBundle:
    """A loaded model with its metadata and its `predictor` (predictor.py), through which every prediction
    goes, serialised across threads and sessions. `runtime_note` says why a bundle that has LiteRT files runs
    on Keras (None when it runs where expected)."""

    path: Path
    meta: dict[str, Any]
    predictor: Predictor = field(repr=False)
    runtime_note: str | None = None

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def outputs(self) -> int:
        return len(self.classes) + (1 if (self.meta.get("open_set") or {}).get("other_output") else 0)

    @cached_property
    def sampler(self) -> ClipSampler:
        """How this model's inputs are sampled (model.json's "sampler"; read once, the meta is not changed)."""
        return ClipSampler.from_meta(self.meta["sampler"])

    @cached_property
    def model(self) -> Any:
        """The Keras model (imports TensorFlow): for training further, exporting and Keras's own tools."""
        if isinstance(self.predictor, KerasPredictor):
            return self.predictor.model
        return _keras_model(self.path, self.meta)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def reads_pose(self) -> bool:
        """Whether the model reads body keypoints (a gesture model taught with the motion kind)."""
        return bool(self.meta.get("pose"))

    @property
    def threshold(self) -> float | None:
        """Best-known-class probability below which a clip is 'no known activity' (None: no open set)."""
        value = (self.meta.get("open_set") or {}).get("threshold")
        return None if value is None else float(value)


def load_bundle(bundle_dir: str | os.PathLike, runtime: str | None = None) -> ModelBundle:
    """Load and cross-check a bundle on `runtime` ('litert' or 'keras'; default: runtime.device's choice).

    LiteRT needs the bundle's LiteRT files; when they are missing or unusable the bundle runs on Keras and
    `runtime_note` says why. The model's input and output must match model.json either way.
    """
    d = Path(bundle_dir)
    meta = read_meta(d)
    note = None
    keras_kept = (d / MODEL_FILE).is_file() or bool(meta.get("backbone"))  # else LiteRT is all there is (pose)
    if (runtime or wanted_runtime()) == "litert" or not keras_kept:
        record = meta.get("litert") or {}
        if record and "error" not in record:
            try:
                predictor = LitePredictor.from_record(record, d, meta, d.parent)
                return ModelBundle(path=d, meta=meta, predictor=predictor)
            except HarError as exc:
                if not keras_kept:
                    raise
                note = str(exc)
        else:
            note = record.get("error") or "this bundle has no LiteRT files (saved before they existed)"
        note = f"runs on Keras: {note}"
    model = _keras_model(d, meta)
    return ModelBundle(path=d, meta=meta, predictor=KerasPredictor(model, int(model.output_shape[-1])),
                       runtime_note=note)


def _keras_model(d: Path, meta: dict[str, Any]) -> Any:
    """The bundle's Keras model: model.keras, or (a taught bundle) its head on the backbone it names; checked
    against model.json."""
    from ..quiet import keras
    from . import activations  # noqa: F401  (an imported Keras 2 model may use its hard sigmoid)

    if (d / MODEL_FILE).is_file():
        try:
            model = keras.saving.load_model(d / MODEL_FILE, compile=False)
        except Exception as exc:  # Keras raises many types for a damaged archive
            raise HarError(f"bundle {d.name}: {MODEL_FILE} cannot be loaded ({exc.__class__.__name__})") from None
    else:
        model = _model_from_head(d, meta)
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
    return model


def _model_from_head(d: Path, meta: dict[str, Any]) -> Any:
    """A head-only bundle's Keras model: its linear head's weights in the Dense layer of a "mean" head on the
    frozen backbone model.json names."""
    from .builders import attach_backbone, build_sequence_head
    from .heads import load_head

    backbone, frames = meta.get("backbone") or {}, int(meta["sampler"]["sequence_length"])
    if not backbone:
        raise HarError(f"bundle {d.name} is incomplete: it has no {MODEL_FILE} and no backbone to build one on")
    head = load_head(d / HEAD_FILE, int(backbone["feature_dim"]), frames)
    keras_head = build_sequence_head(head.outputs, "mean", frames, int(backbone["feature_dim"]), head.segments)
    keras_head.get_layer("probs").set_weights([head.kernel, head.bias])
    return attach_backbone(keras_head, backbone["name"], int(backbone["image_size"]))


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
    for d in sorted(p for p in root.iterdir()
                    if p.is_dir() and not p.name.startswith(".") and p.name not in RESERVED):
        try:
            out.append(BundleListing(d.name, d, read_meta(d), None))
        except HarError as exc:
            out.append(BundleListing(d.name, d, None, str(exc)))
    return out
