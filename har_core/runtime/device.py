"""Which runtime predicts, and on what: LiteRT on the CPU by default; Keras (TensorFlow, or the backend
KERAS_BACKEND names) where a GPU is present, when HAR_RUNTIME=keras, or for a model without LiteRT files.

Deciding must not start TensorFlow: a GPU is seen from the driver's device files, not asked of a framework.
"""
from __future__ import annotations

from pathlib import Path

from ..config import settings
from ..errors import HarError

RUNTIMES = ("auto", "litert", "keras")


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU (the device files its driver makes); no framework is imported."""
    return Path("/dev/nvidia0").exists() or any(Path("/proc/driver/nvidia/gpus").glob("*"))


def wanted_runtime() -> str:
    """'litert' or 'keras', before looking at a model: HAR_RUNTIME, or by default LiteRT unless a GPU is here."""
    choice = settings().runtime
    if choice not in RUNTIMES:
        raise HarError(f"HAR_RUNTIME={choice!r}: choose {', '.join(RUNTIMES)}")
    if choice == "auto":
        return "keras" if gpu_present() else "litert"
    return choice


def keras_device() -> str:
    """Where Keras predicts, e.g. 'CPU (Keras, tensorflow)' or 'GPU: NVIDIA H100 (Keras, jax)'. Imports Keras."""
    from ..quiet import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
                return f"GPU: {name} (Keras, {backend})"
        elif backend == "jax":
            import jax

            dev = jax.devices()[0]
            if dev.platform == "gpu":
                return f"GPU: {dev.device_kind} (Keras, {backend})"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"GPU: {torch.cuda.get_device_name(0)} (Keras, {backend})"
    except Exception:  # device discovery must never break prediction
        pass
    return f"CPU (Keras, {backend})"
