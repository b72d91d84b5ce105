"""LiteRT (the maintained TensorFlow Lite interpreter) behind one small class: a `.tflite` file in, numpy out.

Prediction runs here instead of in TensorFlow: importing `ai_edge_litert` takes a few hundredths of a second
and a few MB, where TensorFlow takes seconds and most of a GiB. XNNPACK runs the float32 graphs on the CPU.
An interpreter is not thread-safe: the owner of a `LiteModel` serialises calls (see models.predictor).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HarError
from ..quiet import muted_stderr

_first = threading.Lock()
_quiet_done = False


def threads() -> int:
    """Interpreter threads: HAR_LITERT_THREADS, else every core this process may use."""
    raw = os.environ.get("HAR_LITERT_THREADS", "")
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _interpreter(path: Path, num_threads: int) -> Any:
    """A LiteRT interpreter; the first of the process is made with stderr muted (XNNPACK announces itself on
    file descriptor 2, whatever the log settings)."""
    global _quiet_done
    from ai_edge_litert.interpreter import Interpreter

    with _first:
        if _quiet_done:
            return Interpreter(model_path=str(path), num_threads=num_threads)
        with muted_stderr():
            interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()  # the delegate is applied here: its line comes now
        _quiet_done = True
        return interpreter


class LiteModel:
    """One `.tflite` graph with one input. A graph exported with a free batch dimension takes any batch (the
    interpreter is resized when the batch changes); one exported for a fixed batch (recurrent layers need
    that) is run on slices of that size, the last one padded."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        self.path = Path(path)
        try:
            self._it = _interpreter(self.path, num_threads or threads())
        except (ValueError, RuntimeError) as exc:
            raise HarError(f"{self.path.name} is not a LiteRT model this version runs ({str(exc)[:80]})") from None
        inputs = self._it.get_input_details()
        if len(inputs) != 1:
            raise HarError(f"{self.path.name} takes {len(inputs)} inputs; one was expected")
        self._input = inputs[0]
        self._outputs = sorted(self._it.get_output_details(), key=lambda d: d["name"])
        signature = self._input.get("shape_signature", self._input["shape"])
        self.fixed_batch: int | None = None if signature[0] == -1 else int(signature[0])
        self.input_shape = tuple(int(d) for d in self._input["shape"][1:])
        self.input_dtype = np.dtype(self._input["dtype"])
        self.output_shape = tuple(int(d) for d in self._outputs[0]["shape"])
        self._batch = int(self._input["shape"][0])
        self._it.allocate_tensors()

    @property
    def output_names(self) -> list[str]:
        return [d["name"] for d in self._outputs]

    def _invoke(self, x: np.ndarray) -> list[np.ndarray]:
        if x.shape[0] != self._batch:
            self._it.resize_tensor_input(self._input["index"], x.shape)
            self._it.allocate_tensors()
            self._batch = x.shape[0]
        self._it.set_tensor(self._input["index"], x)
        self._it.invoke()
        return [self._it.get_tensor(d["index"]).copy() for d in self._outputs]

    def run_all(self, x: np.ndarray) -> list[np.ndarray]:
        """Every output (sorted by name) for a batch `x` of the model's input; the caller holds the lock."""
        x = np.ascontiguousarray(x, dtype=self.input_dtype)
        if tuple(x.shape[1:]) != self.input_shape:
            raise HarError(f"{self.path.name} takes {self.input_shape}, got {tuple(x.shape[1:])}")
        if self.fixed_batch is None:
            return self._invoke(x)
        b, n = self.fixed_batch, len(x)
        parts = []
        for i in range(0, n, b):
            chunk = x[i:i + b]
            if len(chunk) < b:
                chunk = np.concatenate([chunk, np.zeros((b - len(chunk), *chunk.shape[1:]), chunk.dtype)])
            parts.append([o[:min(b, n - i)] for o in self._invoke(chunk)])
        return [np.concatenate([p[k] for p in parts]) for k in range(len(self._outputs))]

    def run(self, x: np.ndarray) -> np.ndarray:
        """The first output for a batch `x`."""
        return self.run_all(x)[0]
