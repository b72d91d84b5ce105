"""Keras, imported with TensorFlow's C++ start-up lines kept out of the server's and the CLI's stderr.

TensorFlow 2.21 writes "oneDNN custom operations are on" and the cpu_feature_guard notice straight to file
descriptor 2 before it reads any log setting (TF_CPP_MIN_LOG_LEVEL, GLOG and ABSL variables do not stop
them). So the first import, and the first operation that creates the device, run with descriptor 2 pointed
at /dev/null; everything after that, TensorFlow's real errors included, reaches stderr as usual. Every module
that needs Keras imports it from here: `from .quiet import keras`. HAR_DEBUG=1 leaves stderr alone.
"""
from __future__ import annotations

import os
import sys
import threading
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the C++ INFO and WARNING lines after start-up
_lock = threading.Lock()


def _import_keras() -> ModuleType:
    with _lock:
        if "keras" in sys.modules or os.environ.get("HAR_DEBUG"):
            import keras

            return keras
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        try:
            import keras

            keras.ops.zeros(1)  # creates the device: the last of the start-up lines
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        return keras


keras = _import_keras()
