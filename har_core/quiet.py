"""Native libraries' console lines kept out of the server's and the CLI's stderr: Keras's import, LiteRT's first
interpreter and TensorFlow's model converter.

TensorFlow 2.21 writes "oneDNN custom operations are on" and the cpu_feature_guard notice straight to file
descriptor 2 before it reads any log setting (TF_CPP_MIN_LOG_LEVEL, GLOG and ABSL variables do not stop
them); XNNPACK announces its delegate and the LiteRT converter its MLIR passes the same way. So those steps run
with descriptor 2 pointed at /dev/null (`muted_stderr`); everything else, TensorFlow's real errors included,
reaches stderr as usual. Every module that needs Keras imports it from here, `from ..quiet import keras`: the
attribute imports Keras on first use, so importing this module costs nothing. HAR_DEBUG=1 leaves stderr alone.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import ModuleType
from typing import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the C++ INFO and WARNING lines after start-up
_lock = threading.Lock()


@contextlib.contextmanager
def muted_stderr() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block (the whole process's: keep blocks short)."""
    if os.environ.get("HAR_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _import_keras() -> ModuleType:
    with _lock:
        if "keras" in sys.modules:
            import keras

            return keras
        with muted_stderr():
            import keras

            keras.ops.zeros(1)  # creates the device: the last of the start-up lines
        return keras


def __getattr__(name: str) -> ModuleType:
    """`keras`, imported (quietly) the first time it is asked for."""
    if name == "keras":
        return _import_keras()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
