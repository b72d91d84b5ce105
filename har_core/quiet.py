"""Native libraries' console lines kept out of the server's and the CLI's stderr: Keras's import, LiteRT's first
interpreter and TensorFlow's model converter; and the one gateway to Keras, so the place for the one fix every
model needs (`_fold_time`).

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


def _fold_time(keras: ModuleType) -> None:
    """Keras 3's TimeDistributed calls its layer once per time step when the clip length is fixed: T copies in
    the graph, so tracing the paper's LRCN (20 frames) took 15 of the 22 s of a small training and every
    Lite2 model traced its encoder 20 times. tf.keras 2 folded time into the batch, one call over batch x T
    frames; this does the same where the frame shape is fixed (same values: test_models). Saved models stay
    plain Keras."""
    td = keras.layers.TimeDistributed
    if getattr(td, "folds_time", False):
        return
    unrolled = td.call

    def call(self, inputs, training=None, mask=None):  # noqa: ANN001, ANN202  Keras's own signature
        shape = inputs.shape
        if mask is not None or None in shape[1:]:
            return unrolled(self, inputs, training=training, mask=mask)
        kwargs = {"training": training} if self.layer._call_has_training_arg else {}
        y = self.layer.call(keras.ops.reshape(inputs, (-1, *shape[2:])), **kwargs)
        return keras.ops.reshape(y, (-1, shape[1], *keras.ops.shape(y)[1:]))

    td.call, td.folds_time = call, True


def _import_keras() -> ModuleType:
    with _lock:
        if "keras" not in sys.modules:
            with muted_stderr():
                import keras

                keras.ops.zeros(1)  # creates the device: the last of the start-up lines
        import keras

        _fold_time(keras)
        return keras


def __getattr__(name: str) -> ModuleType:
    """`keras`, imported (quietly) the first time it is asked for."""
    if name == "keras":
        return _import_keras()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
