"""Bringing in a model trained elsewhere (the paper's tutorial code: `.keras`, a legacy tf.keras 2 `.h5`, or
a tf.keras 2 SavedModel folder, also zipped) as a bundle that every page and command runs like our own.

The tutorial feeds its model BGR frames scaled by 1/255 outside it. The bundle wraps the model so that it
takes what ours take, uint8 RGB clips, and does that preprocessing inside (a fixed channel swap, then the
scale): prediction code stays one path. The frames are chosen by the app's one sampler set to the tutorial's
rule (`sampling="tutorial"`: every n//L-th frame from the first, linear resize), so the wrapped model sees
exactly what its author's `frames_extraction` gave it; `sampling="even"` uses the app's own rule instead.

A legacy `.h5` that Keras 3 cannot read ("Could not locate class 'Conv2D'", "Unrecognized keyword arguments
... time_major") is rebuilt from the model config stored in the file: only standard Keras layers (never a
Lambda or a custom class: nothing from the file is executed), each given the arguments its Keras 3 class
takes, then the weights are set layer by layer. A SavedModel is rebuilt the same way from the config in its
keras_metadata.pb, its weights read as tensors from its checkpoint; its graph (saved_model.pb) is never run.
"""
from __future__ import annotations

import inspect
import json
import os
import tempfile
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..config import settings
from ..errors import HarError
from ..media.sampling import ClipSampler
from . import bundle as bundle_mod

TUTORIAL_SCALE = 1 / 255
_BASE_ARGS = {"name", "trainable", "dtype"}
_REFUSED = ("Lambda", "TFSMLayer")  # run code, or load a graph from a path the file names
_WRAPPERS = ("TimeDistributed", "Bidirectional")
SAMPLINGS = {"tutorial": {"spread": "stride", "resize": "linear"}, "even": {"spread": "centred", "resize": "area"}}


def _layer(config: dict[str, Any]) -> Any:
    """A standard Keras 3 layer from a legacy layer config, keeping the arguments its class takes."""
    from ..quiet import keras

    name, conf = config.get("class_name"), dict(config.get("config") or {})
    if name in _REFUSED or not isinstance(name, str) or not inspect.isclass(getattr(keras.layers, name, None)):
        raise HarError(f"the model uses layer {name!r}, which is not a standard Keras layer; only standard layers "
                       "are imported (code stored in a model file is never run)")
    cls = getattr(keras.layers, name)
    if name in _WRAPPERS:
        conf["layer"] = _layer(conf["layer"])
    if isinstance(conf.get("dtype"), dict):  # Keras 2.13+ writes a DTypePolicy object
        conf["dtype"] = (conf["dtype"].get("config") or {}).get("name", "float32")
    accepted = set(inspect.signature(cls.__init__).parameters) | _BASE_ARGS
    try:
        return cls(**{k: v for k, v in conf.items() if k in accepted})
    except (TypeError, ValueError) as exc:
        raise HarError(f"layer {conf.get('name', name)!r} ({name}) cannot be rebuilt in Keras 3: {exc}") from None


def _untuple(value: Any) -> Any:
    """A SavedModel's metadata writes tuples as {"class_name": "__tuple__", "items": [...]}: make them lists."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__":
            return [_untuple(v) for v in value["items"]]
        return {k: _untuple(v) for k, v in value.items()}
    return [_untuple(v) for v in value] if isinstance(value, list) else value


def _saved_model_root(path: Path) -> dict[str, Any]:
    """The root object's record in a tf.keras SavedModel's keras_metadata.pb (its class, config, Keras version)."""
    from tensorflow.python.keras.protobuf import saved_metadata_pb2

    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((path / "keras_metadata.pb").read_bytes())
    root = next((n for n in meta.nodes if n.node_path == "root"), None)
    if root is None:
        raise HarError(f"{path.name}'s keras_metadata.pb does not describe a model")
    return json.loads(root.metadata)


def _stored_config(path: Path) -> dict[str, Any]:
    """The model config a Keras 2 file stores: an .h5's 'model_config' attribute, a .keras archive's config.json,
    a SavedModel's keras_metadata.pb."""
    if path.is_dir():
        root = _saved_model_root(path)
        return _untuple({"class_name": root.get("class_name"), "config": root.get("config")})
    if path.suffix.lower() == ".keras":
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("config.json"))
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
    if raw is None:
        raise HarError(f"{path.name} holds weights only, no model: save the whole model (model.save) and import that")
    return json.loads(raw if isinstance(raw, str) else raw.decode())


def _checkpoint_weights(model: Any, path: Path) -> None:
    """Set each layer's weights from a SavedModel's checkpoint: the object graph lists, for the i-th layer
    ('layer-i'), its variables in Keras order ('variables/0', '/1', ...), each with the key of its tensor."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    reader = tf.train.load_checkpoint(str(path / "variables" / "variables"))
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))

    def child(node: int, name: str) -> int | None:
        return next((c.node_id for c in graph.nodes[node].children if c.local_name == name), None)

    for i, layer in enumerate(model.layers):
        node = child(0, f"layer-{i}")
        listed = child(node, "variables") if node is not None else None
        if listed is None:
            raise HarError(f"{path.name} has no weights for layer {layer.name!r}")
        order = sorted(graph.nodes[listed].children, key=lambda c: int(c.local_name))
        keys = [a.checkpoint_key for c in order for a in graph.nodes[c.node_id].attributes
                if a.name == "VARIABLE_VALUE"]
        layer.set_weights([reader.get_tensor(k) for k in keys])


def _rebuild(path: Path) -> Any:
    """A Sequential Keras 2 model rebuilt from the config its file or folder stores, with its weights."""
    from ..quiet import keras

    config = _stored_config(path)
    if config.get("class_name") != "Sequential":
        raise HarError(f"{path.name} is a {config.get('class_name')} model that Keras 3 cannot read; only Sequential "
                       "Keras 2 models (the tutorial's) are rebuilt: re-save it with Keras 3")
    layers, shape = [], None
    for entry in config["config"]["layers"]:
        conf = entry.get("config") or {}
        if entry.get("class_name") == "InputLayer":
            shape = conf.get("batch_input_shape") or conf.get("batch_shape")
            continue
        shape = shape or conf.get("batch_input_shape")
        layers.append(_layer(entry))
    if not shape:
        raise HarError(f"{path.name} does not record its input shape")
    model = keras.Sequential([keras.Input(shape=tuple(shape[1:])), *layers])
    try:
        _checkpoint_weights(model, path) if path.is_dir() else model.load_weights(path)
    except HarError:
        raise
    except Exception as exc:  # noqa: BLE001  (Keras raises many types for mismatched weights)
        raise HarError(f"the weights in {path.name} do not fit its stored architecture ({exc.__class__.__name__})") from None
    return model


def _written_by_keras2(path: Path) -> bool:
    """Whether Keras 2 wrote the file: a .keras archive says so in metadata.json, an .h5 in an attribute (files
    from before Keras recorded it are Keras 2's); a SavedModel with Keras metadata is always Keras 2's."""
    try:
        if path.is_dir():
            return True
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as z:
                version = json.loads(z.read("metadata.json")).get("keras_version", "")
        else:
            import h5py

            with h5py.File(path, "r") as f:
                version = f.attrs.get("keras_version", b"2.")
        version = version.decode() if isinstance(version, bytes) else str(version)
    except (OSError, KeyError, ValueError):
        return False
    return version.startswith("2.")


def _keras2_activations(model: Any) -> int:
    """Give every layer (and recurrent cell) that uses 'hard_sigmoid' Keras 2's definition; returns how many."""
    from ..quiet import keras
    from .activations import keras2_hard_sigmoid

    fixed = 0
    for layer in model._flatten_layers(include_self=False):
        holder = getattr(layer, "cell", None) or layer  # an RNN layer's activations live on its cell
        for attr in ("activation", "recurrent_activation"):
            if vars(holder).get(attr) is keras.activations.hard_sigmoid:
                setattr(holder, attr, keras2_hard_sigmoid)
                fixed += 1
    return fixed


def load_foreign(path: str | os.PathLike) -> Any:
    """The Keras model in a `.keras` or `.h5` file or a SavedModel folder (or a .zip of one), loaded without
    running code from it, with Keras 2's meaning of 'hard_sigmoid' when Keras 2 wrote it."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".zip":
        with tempfile.TemporaryDirectory(prefix="har-import-") as tmp:
            return load_foreign(_unzip_saved_model(p, Path(tmp)))
    model = _load(p)
    if _written_by_keras2(p):
        _keras2_activations(model)
    return model


def _bytes(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size


def _check_size(p: Path, size: int | None = None) -> None:
    """Refuse a model over HAR_MAX_IMPORT_MB (`size`: what it unpacks to, else its bytes on disk)."""
    size_mb, limit = (_bytes(p) if size is None else size) / 2**20, settings().max_import_mb
    if size_mb > limit:
        raise HarError(f"{p.name} is {size_mb:.1f} MB; at most {limit:g} MB is imported (HAR_MAX_IMPORT_MB)")


def _unzip_saved_model(p: Path, into: Path) -> Path:
    """Unpack a zipped SavedModel folder (checked before anything is written) and return the folder."""
    _check_size(p)
    try:
        with zipfile.ZipFile(p) as z:
            members = z.infolist()
            _check_size(p, sum(m.file_size for m in members))
            if any(m.filename.startswith("/") or ".." in Path(m.filename).parts for m in members):
                raise HarError(f"{p.name} has paths outside its folder; zip the SavedModel folder itself")
            z.extractall(into)
    except zipfile.BadZipFile:
        raise HarError(f"{p.name} is not a zip archive") from None
    found = sorted(f.parent for f in into.rglob("saved_model.pb"))
    if not found:
        raise HarError(f"{p.name} holds no SavedModel (no saved_model.pb): zip the folder model.save() wrote")
    return found[0]


def _load_saved_model(p: Path) -> Any:
    if not (p / "saved_model.pb").is_file():
        raise HarError(f"{p.name} is a folder but not a SavedModel (no saved_model.pb): import a .keras, .h5 or "
                       "SavedModel")
    if not (p / "keras_metadata.pb").is_file():
        raise HarError(f"{p.name} is a SavedModel without Keras metadata (written by TensorFlow or Keras 3's "
                       "export): its layers cannot be read without running its graph; load it where it was made, "
                       "save it as .keras and import that")
    _check_size(p)
    from google.protobuf.message import DecodeError

    try:
        return _rebuild(p)
    except (OSError, KeyError, ValueError, TypeError, DecodeError) as exc:
        raise HarError(f"{p.name} is a SavedModel this import cannot read ({exc.__class__.__name__})") from None


def _load(p: Path) -> Any:
    if p.is_dir():
        return _load_saved_model(p)
    if not p.is_file():
        raise HarError(f"no such file: {p}")
    if p.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise HarError(f"{p.name} is not a model file: import a .keras or .h5 file, or a SavedModel folder")
    _check_size(p)
    import h5py

    if not (zipfile.is_zipfile(p) if p.suffix.lower() == ".keras" else h5py.is_hdf5(p)):
        raise HarError(f"{p.name} is not a model file: its contents are not a Keras archive or HDF5")
    from ..quiet import keras

    try:
        with warnings.catch_warnings():  # Keras 2 configs make Keras 3 warn (input_shape, ...) before it fails
            warnings.simplefilter("ignore")
            return keras.saving.load_model(p, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001  (Keras raises many types; Keras 2 files are rebuilt below)
        if not _written_by_keras2(p):
            raise HarError(f"{p.name} is not a model Keras can read ({exc.__class__.__name__}: "
                           f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from None
    try:
        return _rebuild(p)
    except (OSError, KeyError, ValueError):
        raise HarError(f"{p.name} is not a model file") from None


def _channel_swap() -> Any:
    """RGB -> BGR on the last axis: a fixed permutation (a Dense without bias), exact for any value."""
    from ..quiet import keras

    swap = keras.layers.Dense(3, use_bias=False, trainable=False, name="rgb_to_bgr")
    swap.build((None, 3))
    swap.set_weights([np.eye(3, dtype="float32")[::-1]])
    return swap


def wrap(model: Any, bgr: bool = True, scale: float = TUTORIAL_SCALE) -> Any:
    """uint8 RGB clips in, the model's output out, its own preprocessing inside."""
    from ..quiet import keras

    shape = tuple(model.input_shape[1:])
    if len(shape) != 4 or shape[3] != 3 or None in shape:
        raise HarError(f"the model takes input of shape {shape}; a clip model takes (frames, height, width, 3)")
    if shape[1] != shape[2]:
        raise HarError(f"the model reads {shape[2]}x{shape[1]} frames; only square frames are supported")
    frames = keras.Input(shape=shape, dtype="uint8", name="frames")
    x = keras.layers.Rescaling(scale, name="scale")(frames)
    if bgr:
        x = _channel_swap()(x)
    return keras.Model(frames, model(x), name="imported")


def import_model(source: str | os.PathLike, out_dir: str | os.PathLike, classes: list[str], bgr: bool = True,
                 scale: float = TUTORIAL_SCALE, sampling: str = "tutorial", overwrite: bool = False,
                 command: str = "") -> Path:
    """Import `source` as a bundle in `out_dir`; the classes are the model's outputs, in order; `sampling`
    (a key of SAMPLINGS) is how a clip's frames are picked and resized for it."""
    start = time.perf_counter()
    if sampling not in SAMPLINGS:
        raise HarError(f"unknown sampling {sampling!r}: choose {' or '.join(SAMPLINGS)}")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise HarError("give the model's classes in output order, at least two, each once")
    model = load_foreign(source)
    outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if outputs != len(classes):
        raise HarError(f"the model has {outputs} outputs but {len(classes)} classes were given: "
                       "give one class per output, in order")
    wrapped = wrap(model, bgr, scale)
    frames, size = int(wrapped.input_shape[1]), int(wrapped.input_shape[2])
    meta = {
        "classes": list(classes),
        "architecture": "imported",
        "parameters": int(wrapped.count_params()),
        "sampler": ClipSampler(frames, size, **SAMPLINGS[sampling]).as_meta(),
        "imported": {
            "source": Path(source).name, "bytes": _bytes(Path(source)), "sampling": sampling,
            "preprocessing": ("RGB -> BGR, then " if bgr else "RGB, then ") + f"x * {scale:g}, inside the bundle",
            "command": command, "seconds": round(time.perf_counter() - start, 2),
        },
        "metrics": {},
    }
    return bundle_mod.save_bundle(wrapped, meta, out_dir, overwrite=overwrite)
