"""Model builders: the paper's two networks layer by layer, and Donahue's LRCN on ImageNet frame features.

Every model takes uint8 clips (batch, frames, size, size, 3) and scales them itself, so no float copy of
a dataset is ever made. Keras 3 API only: the same code runs on any Keras backend. Which builder goes with
which name, size and training defaults is in `architectures`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import IMAGE_SIZE, SEQUENCE_LENGTH
from ..quiet import keras
from .architectures import architecture

layers = keras.layers


def _input(seq_len: int, size: int) -> keras.KerasTensor:
    return keras.Input(shape=(seq_len, size, size, 3), dtype="uint8", name="frames")


def build_convlstm(num_classes: int, seq_len: int = SEQUENCE_LENGTH, size: int = IMAGE_SIZE) -> keras.Model:
    """The paper's ConvLSTM: 4/8/14/16 filters, 44,524 parameters for four classes."""
    inputs = _input(seq_len, size)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    filters = (4, 8, 14, 16)
    for i, f in enumerate(filters):
        x = layers.ConvLSTM2D(f, (3, 3), activation="tanh", recurrent_dropout=0.2, return_sequences=True)(x)
        x = layers.MaxPooling3D(pool_size=(1, 2, 2), padding="same")(x)
        if i < len(filters) - 1:
            x = layers.TimeDistributed(layers.Dropout(0.2))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="convlstm")


def build_lrcn(num_classes: int, seq_len: int = SEQUENCE_LENGTH, size: int = IMAGE_SIZE) -> keras.Model:
    """The paper's LRCN: per-frame CNN 16/32/64/64, LSTM 32, 73,060 parameters for four classes.

    Everything before the LSTM is per frame (TimeDistributed), which lets inference compute each
    frame's features once (see split_frame_encoder).
    """
    inputs = _input(seq_len, size)
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for f, pool, drop in ((16, 4, True), (32, 4, True), (64, 2, True), (64, 2, False)):
        x = layers.TimeDistributed(layers.Conv2D(f, (3, 3), padding="same", activation="relu"))(x)
        x = layers.TimeDistributed(layers.MaxPooling2D((pool, pool)))(x)
        if drop:
            x = layers.TimeDistributed(layers.Dropout(0.25))(x)
    x = layers.TimeDistributed(layers.Flatten())(x)
    x = layers.LSTM(32)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="lrcn")


def build_sequence_head(num_outputs: int, kind: str, seq_len: int = SEQUENCE_LENGTH, dim: int = 1280,
                        segments: int = 1) -> keras.Model:
    """The trainable part of an ImageNet-frame model: frame features -> "lstm" (in order, LRCN) or "mean"
    (averaged over each of `segments` ordered parts of the clip, side by side) -> softmax. Dropout keeps the
    LSTM from leaning on a few ImageNet units; the mean head's weights come from a logistic regression
    (learning.training.fit_linear_head), which reads the same averages (`segment_means`)."""
    feats = keras.Input(shape=(seq_len, dim), name="frame_features")   # (T, 1280) float
    if kind == "lstm":
        x = layers.Dropout(0.3)(feats)
        x = layers.LSTM(128, name="lstm")(x)                            # (128,)
        x = layers.Dropout(0.3)(x)
    elif segments == 1:
        x = layers.GlobalAveragePooling1D(name="mean_over_frames")(feats)  # (1280,)
    else:
        if seq_len % segments:
            raise ValueError(f"{seq_len} frames do not split into {segments} equal segments")
        x = layers.Reshape((segments, seq_len // segments, dim), name="segments")(feats)   # (S, T/S, 1280)
        x = layers.AveragePooling2D((1, seq_len // segments), name="mean_per_segment")(x)   # (S, 1, 1280)
        x = layers.Flatten(name="segment_means")(x)                                         # (S * 1280,)
    outputs = layers.Dense(num_outputs, activation="softmax", name="probs")(x)
    return keras.Model(feats, outputs, name="head")


def attach_backbone(head: keras.Model, backbone: str, size: int) -> keras.Model:
    """Clips in, probabilities out: the frozen ImageNet encoder on every frame, then a trained head.

    The bundle keeps the whole network, so prediction needs neither the weights package nor a cache.
    """
    from .pretrained import load_backbone

    seq_len, dim = head.input_shape[1:]
    encoder = load_backbone(backbone, size)
    encoder.trainable = False
    frames = _input(seq_len, size)                                                  # (T, S, S, 3) uint8
    feats = layers.TimeDistributed(encoder, name="frame_encoder")(frames)           # (T, 1280)
    return keras.Model(frames, head(feats), name="imagenet_frames")


def build(arch: str, num_classes: int, size: int | None = None) -> keras.Model:
    """A fresh model of the named architecture at its record's frame count and (unless given) size."""
    rec = architecture(arch)
    size = size or rec.image_size
    if rec.backbone:
        head = build_sequence_head(num_classes, rec.head, rec.frames, segments=rec.segments)
        return attach_backbone(head, rec.backbone, size)
    return {"convlstm": build_convlstm, "lrcn": build_lrcn}[rec.name](num_classes, rec.frames, size)


def pretrained_parts(model: keras.Model) -> tuple[keras.Model, keras.Model] | None:
    """(frozen per-frame encoder, trained head) of a model built by `attach_backbone`; None for a network
    trained whole."""
    names = {layer.name for layer in model.layers}
    if not {"frame_encoder", "head"} <= names:
        return None
    return model.get_layer("frame_encoder").layer, model.get_layer("head")


@dataclass
class FrameEncoder:
    """An LRCN split in two: per-frame features, then the sequence head (shares the model's weights)."""

    encoder: Any
    head: Any


def split_frame_encoder(model: Any) -> FrameEncoder | None:
    """For models whose layers before the recurrent part are all per frame, build encoder + head."""
    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    cut = 0
    while cut < len(layers) and isinstance(layers[cut], (keras.layers.TimeDistributed, keras.layers.Rescaling)):
        cut += 1
    if cut == 0 or cut == len(layers) or not any(isinstance(l, keras.layers.TimeDistributed) for l in layers[:cut]):
        return None
    frame_shape = model.input_shape[2:]
    x = inp = keras.Input(shape=frame_shape, dtype=model.inputs[0].dtype)
    for layer in layers[:cut]:
        x = (layer.layer if isinstance(layer, keras.layers.TimeDistributed) else layer)(x)
    encoder = keras.Model(inp, x)
    y = seq = keras.Input(shape=(model.input_shape[1], *x.shape[1:]))
    for layer in layers[cut:]:
        y = layer(y)
    return FrameEncoder(encoder, keras.Model(seq, y))
