"""Keras models to the files LiteRT predicts with. Needs TensorFlow: it runs when a bundle is saved (train,
import, `python -m har_core export`), never when one predicts.

What a model becomes depends on its shape, so that each sampled frame is still encoded once:
- a frozen ImageNet backbone + a "mean" head: the shared encoder (encoders.py) and `head.npz` (numpy);
- a frozen backbone + another head (LSTM): the shared encoder and `head.tflite`;
- per-frame layers, then a sequence part (the paper's LRCN): `encoder.tflite` and `head.tflite`;
- anything else (ConvLSTM, imported models): `model.tflite`, whole clips.
Recurrent graphs convert only with a fixed batch, so heads and whole-clip graphs take one clip per call, and
MaxPooling3D over (1, 2, 2) (no LiteRT kernel) is exported as the identical per-frame MaxPooling2D. The bundle
checks every export against Keras (models.bundle).
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ..errors import HarError
from ..quiet import keras, muted_stderr
from .builders import pretrained_parts, split_frame_encoder
from .heads import HEAD_FILE, LinearHead

ENCODER_FILE, SEQ_HEAD_FILE, CLIP_FILE = "encoder.tflite", "head.tflite", "model.tflite"


def _convertible(model: Any) -> Any:
    """The same network with each MaxPooling3D of pool depth 1 as a TimeDistributed MaxPooling2D (same values),
    nested models included; weights copied."""
    def swap(layer: Any) -> Any:
        if isinstance(layer, keras.layers.MaxPooling3D) and layer.pool_size[0] == 1 and layer.strides[0] == 1:
            return keras.layers.TimeDistributed(keras.layers.MaxPooling2D(
                layer.pool_size[1:], layer.strides[1:], padding=layer.padding), name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    if not any(isinstance(l, keras.layers.MaxPooling3D) for l in _all_layers(model)):
        return model
    clone = keras.models.clone_model(model, clone_function=swap, recursive=True)
    clone.set_weights(model.get_weights())
    return clone


def _all_layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.append(layer)
        if isinstance(layer, keras.Model):
            out += _all_layers(layer)
    return out


def to_tflite(model: Any, batch: int | None) -> bytes:
    """A Keras model as a LiteRT flatbuffer (builtin ops only), with a fixed batch or a free one (None)."""
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # retracing notices while exporting are not the user's concern
    model = _convertible(model)
    spec = [tf.TensorSpec((batch, *model.input_shape[1:]), model.inputs[0].dtype)]
    with tempfile.TemporaryDirectory(prefix="har-export-") as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False, input_signature=spec)
        try:
            with muted_stderr():  # the converter narrates its passes on fd 2
                return tf.lite.TFLiteConverter.from_saved_model(tmp).convert()
        except Exception as exc:  # the converter's errors are long MLIR dumps: keep the first line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HarError(f"LiteRT cannot convert {model.name}: {first[:160]}") from None


def linear_head(head: Any) -> LinearHead | None:
    """A "mean" head (segment means, then one softmax Dense) as numpy weights; None for any other head."""
    names = [l.__class__.__name__ for l in head.layers]
    if names not in (["InputLayer", "GlobalAveragePooling1D", "Dense"],
                     ["InputLayer", "Reshape", "AveragePooling2D", "Flatten", "Dense"]):
        return None
    dense = head.layers[-1]
    if dense.get_config().get("activation") != "softmax":
        return None
    segments = int(head.layers[1].target_shape[0]) if names[1] == "Reshape" else 1
    kernel, bias = dense.get_weights()
    return LinearHead(kernel.astype("float32"), bias.astype("float32"), segments)


def encoder_tflite(backbone: str, size: int) -> tuple[bytes, dict[str, Any]]:
    """A frozen ImageNet backbone as a LiteRT graph taking any batch of frames, and what model.json says of it
    (pretrained.backbone_record and its parameter count); models.encoders stores it."""
    from .pretrained import backbone_record, load_backbone

    model = load_backbone(backbone, size)
    return to_tflite(model, None), {**backbone_record(backbone, size), "parameters": int(model.count_params())}


def write_litert(model: Any, folder: Path, shared: dict[str, Any] | None) -> dict[str, Any]:
    """Write the LiteRT files of `model` into bundle folder `folder`; model.json's "litert" record. `shared` is
    the stored encoder of the model's frozen backbone (models.encoders), for a model that has one."""
    parts = pretrained_parts(model)
    if parts is not None:
        if shared is None:
            raise HarError("the model has a frozen backbone but model.json names none")
        record: dict[str, Any] = {"encoder": {"shared": shared}}
        linear = linear_head(parts[1])
        if linear is not None:
            linear.save(folder / HEAD_FILE)
            record["head"] = {"file": HEAD_FILE, "kind": "linear"}
        else:
            (folder / SEQ_HEAD_FILE).write_bytes(to_tflite(parts[1], 1))
            record["head"] = {"file": SEQ_HEAD_FILE, "kind": "tflite"}
    elif (split := split_frame_encoder(model)) is not None:
        (folder / ENCODER_FILE).write_bytes(to_tflite(split.encoder, None))
        (folder / SEQ_HEAD_FILE).write_bytes(to_tflite(split.head, 1))
        record = {"encoder": {"file": ENCODER_FILE}, "head": {"file": SEQ_HEAD_FILE, "kind": "tflite"}}
    else:
        (folder / CLIP_FILE).write_bytes(to_tflite(model, 1))
        record = {"clip": {"file": CLIP_FILE}}
    return record
