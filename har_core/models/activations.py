"""Keras 2's hard sigmoid, which Keras 3 redefined: Keras 2 computed clip(0.2 x + 0.5, 0, 1), Keras 3 computes
relu6(x + 3) / 6 under the same name. tf.keras 2's LSTM and ConvLSTM2D default to it as their recurrent
activation, so a model trained there (the tutorial's ConvLSTM) needs this one to predict what it predicted.
Registered under 'har_core>' so that a bundle holding it loads wherever har_core is imported, in safe mode.
"""
from __future__ import annotations

from typing import Any

from ..quiet import keras


@keras.saving.register_keras_serializable(package="har_core", name="keras2_hard_sigmoid")
def keras2_hard_sigmoid(x: Any) -> Any:
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)
