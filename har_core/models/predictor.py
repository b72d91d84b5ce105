"""A loaded model's prediction paths, owned by its bundle (`ModelBundle.predictor`): classify, annotate and
the webcam all go through one.

Models that read each frame on its own first (the paper's LRCN, the ImageNet backbones) are split in two, an
encoder on frames and a head on feature sequences, so that a frame shared by many sliding windows is encoded
once. One lock serialises every call on the model (sessions and the webcam thread share a loaded bundle);
`warm_up` builds each graph before the first real frame.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

# Frames per backbone call, here and when features are cached for training: an ImageNet CNN's activations at
# 224 px cost ~10 MB a frame, so a server process stays near 0.8 GB (32 frames: 1.1 GB) for about the same speed.
FRAME_BATCH = 8


@dataclass
class FrameEncoder:
    """An LRCN split in two: per-frame features, then the sequence head (shares the model's weights)."""

    encoder: Any
    head: Any


def split_frame_encoder(model: Any) -> FrameEncoder | None:
    """For models whose layers before the recurrent part are all per frame, build encoder + head."""
    from ..quiet import keras

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


class Predictor:
    """Thread-safe batched prediction for one loaded model."""

    def __init__(self, model: Any, n_outputs: int):
        self.model, self.n_outputs = model, n_outputs
        self.lock = threading.Lock()
        self.split = split_frame_encoder(model)
        self.frames, self.size = int(model.input_shape[1]), int(model.input_shape[2])  # clips: (frames, size, size, 3)

    @property
    def per_frame(self) -> bool:
        """Whether frames can be encoded one by one (then `encode` and `head`, else only `clips`)."""
        return self.split is not None

    def _run(self, fn: Any, batch: np.ndarray) -> np.ndarray:
        with self.lock:
            return np.asarray(fn(batch))

    def clips(self, clips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Probabilities for uint8 clips (n, frames, size, size, 3), batch by batch."""
        out = [self._run(self.model.predict_on_batch, clips[i:i + batch_size])
               for i in range(0, len(clips), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.n_outputs), dtype="float32")

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Per-frame features of uint8 frames (n, size, size, 3), FRAME_BATCH at a time."""
        assert self.split is not None, "encode needs a per-frame model"
        return np.concatenate([self._run(self.split.encoder.predict_on_batch, frames[i:i + FRAME_BATCH])
                               for i in range(0, len(frames), FRAME_BATCH)])

    def head(self, sequences: np.ndarray) -> np.ndarray:
        """Probabilities for feature sequences (n, frames, dim)."""
        assert self.split is not None, "head needs a per-frame model"
        return self._run(self.split.head.predict_on_batch, sequences)

    def speed(self, batch: int = 8, seconds: float = 1.0) -> dict[str, float]:
        """Clips per second of whole-clip prediction on random uint8 batches (the model's real input type),
        timed for at least `seconds` after a warm-up call (graph tracing is not inference)."""
        x = np.random.default_rng(0).integers(0, 256, (batch, self.frames, self.size, self.size, 3), dtype=np.uint8)
        self.clips(x)
        runs, start = 0, time.perf_counter()
        while runs < 3 or time.perf_counter() - start < seconds:
            self.clips(x)
            runs += 1
        took = time.perf_counter() - start
        return {"clips_per_s": runs * batch / took, "ms_per_batch": 1000 * took / runs}

    def warm_up(self) -> None:
        """Run each graph prediction uses once (the first call builds it: seconds on a busy CPU)."""
        if self.split is None:
            self.clips(np.zeros((1, self.frames, self.size, self.size, 3), dtype=np.uint8))
            return
        feats = self.encode(np.zeros((1, self.size, self.size, 3), dtype=np.uint8))
        self.head(np.repeat(feats[None], self.frames, axis=1))
