"""Model builders, paper-faithful layer by layer, and the registry of architectures to train by name.

Every model takes uint8 clips (batch, frames, size, size, 3) and rescales to [0, 1] itself, so no
float copy of a dataset is ever made. Keras 3 API only: the same code runs on any Keras backend.
"""
from __future__ import annotations

from typing import Callable

import keras
from keras import layers

from .config import IMAGE_SIZE, SEQUENCE_LENGTH


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
    frame's features once (see inference.split_frame_encoder).
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


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "convlstm": build_convlstm,
    "lrcn": build_lrcn,
}

# Early-stopping patience the paper used for each architecture.
PAPER_PATIENCE = {"convlstm": 10, "lrcn": 15}


def build(arch: str, num_classes: int, seq_len: int = SEQUENCE_LENGTH, size: int = IMAGE_SIZE) -> keras.Model:
    if arch not in ARCHITECTURES:
        from .errors import HarError

        raise HarError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](num_classes, seq_len, size)
