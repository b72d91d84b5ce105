"""A loaded model's prediction paths, owned by its bundle (`ModelBundle.predictor`): classify, annotate and
the webcam all go through one, on LiteRT (`LitePredictor`) or Keras (`KerasPredictor`), with the same answers.

Models that read each frame on its own first (the paper's LRCN, the ImageNet backbones) are split in two, an
encoder on frames and a head on feature sequences, so that a frame shared by many sliding windows is encoded
once. One lock serialises every call on the model (sessions and the webcam thread share a loaded bundle);
`warm_up` builds or loads each graph before the first real frame.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import HarError
from ..runtime.litert import LiteModel, threads
from . import encoders
from .encoders import FRAME_BATCH
from ..pose.blazepose import FRAME_DIM
from .heads import LinearHead, PoseHead, load_head


class Predictor:
    """Thread-safe batched prediction for one loaded model; subclasses say how a batch runs."""

    runtime = ""
    sequential = False  # an encoder that follows something from frame to frame (body pose): whole sequences

    def __init__(self, frames: int, size: int, n_outputs: int, per_frame: bool):
        self.frames, self.size, self.n_outputs, self.per_frame = frames, size, n_outputs, per_frame
        self.lock = threading.Lock()

    @property
    def device(self) -> str:
        """Where predictions run, in words."""
        raise NotImplementedError

    def _clips(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _encode(self, frames: np.ndarray, state: dict | None) -> np.ndarray:
        raise NotImplementedError

    def _head(self, sequences: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def clips(self, clips: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Probabilities for uint8 clips (n, frames, size, size, 3), batch by batch."""
        out = []
        for i in range(0, len(clips), batch_size):
            if self.per_frame:  # each frame through the encoder, then the head: the same numbers, fewer graphs
                out.append(self.head(np.stack([self.encode(clip) for clip in clips[i:i + batch_size]])))
            else:
                with self.lock:
                    out.append(np.asarray(self._clips(clips[i:i + batch_size])))
        return np.concatenate(out) if out else np.zeros((0, self.n_outputs), dtype="float32")

    def encode(self, frames: np.ndarray, state: dict | None = None) -> np.ndarray:
        """Per-frame features of uint8 frames (n, height, width, 3) in order, FRAME_BATCH at a time. A sequential
        encoder reads them in one go, and `state` carries what it follows (where the person was) from one call
        to the next on the same video or stream; it serialises itself."""
        assert self.per_frame, "encode needs a per-frame model"
        if self.sequential:
            return np.asarray(self._encode(frames, state), dtype="float32")
        parts = []
        for i in range(0, len(frames), FRAME_BATCH):
            with self.lock:
                parts.append(np.asarray(self._encode(frames[i:i + FRAME_BATCH], None), dtype="float32"))
        return np.concatenate(parts)

    def head(self, sequences: np.ndarray) -> np.ndarray:
        """Probabilities for feature sequences (n, frames, dim)."""
        assert self.per_frame, "head needs a per-frame model"
        with self.lock:
            return np.asarray(self._head(sequences))

    def speed(self, batch: int = 8, seconds: float = 1.0) -> dict[str, float]:
        """Clips per second of whole-clip prediction on random uint8 batches (the model's real input type),
        timed for at least `seconds` after a warm-up call (building a graph is not inference)."""
        x = np.random.default_rng(0).integers(0, 256, (batch, self.frames, self.size, self.size, 3), dtype=np.uint8)
        self.clips(x)
        runs, start = 0, time.perf_counter()
        while runs < 3 or time.perf_counter() - start < seconds:
            self.clips(x)
            runs += 1
        took = time.perf_counter() - start
        return {"clips_per_s": runs * batch / took, "ms_per_batch": 1000 * took / runs}

    def warm_up(self) -> None:
        """Run each graph prediction uses once (Keras builds it on the first call: seconds on a busy CPU)."""
        if not self.per_frame:
            self.clips(np.zeros((1, self.frames, self.size, self.size, 3), dtype=np.uint8))
            return
        feats = self.encode(np.zeros((1, self.size, self.size, 3), dtype=np.uint8))
        self.head(np.repeat(feats[None], self.frames, axis=1))


class LitePredictor(Predictor):
    """Prediction on LiteRT: a frame encoder (the shared ImageNet one, or the bundle's own) and a head (numpy
    or LiteRT), or one graph for whole clips. No TensorFlow."""

    runtime = "litert"

    def __init__(self, frames: int, size: int, n_outputs: int, encoder: Any = None,
                 head: LinearHead | PoseHead | LiteModel | None = None, clip: LiteModel | None = None):
        super().__init__(frames, size, n_outputs, per_frame=clip is None)
        self._encoder, self._head_model, self._clip = encoder, head, clip
        self.sequential = bool(getattr(encoder, "sequential", False))

    @property
    def device(self) -> str:
        return f"CPU (LiteRT, XNNPACK, {threads()} threads)"

    @classmethod
    def from_record(cls, record: dict[str, Any], folder: Path, meta: dict[str, Any], near: Path) -> "LitePredictor":
        """The predictor model.json's "litert" record describes, from the files in `folder` (a shared encoder is
        looked for beside the bundles in `near` too)."""
        s = meta["sampler"]
        frames, size = int(s["sequence_length"]), int(s["image_size"])
        outputs = len(meta["classes"]) + (1 if (meta.get("open_set") or {}).get("other_output") else 0)
        if "clip" in record:
            clip = _lite(folder, record["clip"]["file"])
            _expect(folder, clip.input_shape, (frames, size, size, 3), clip.output_shape[-1], outputs)
            return cls(frames, size, outputs, clip=clip)
        if "pose" in record:
            encoder, dim = _pose_encoder(record["pose"], folder), FRAME_DIM
            head = load_head(folder / record["head"]["file"], dim, frames)
            _expect(folder, (frames, dim), (frames, dim), head.outputs, outputs)
            return cls(frames, size, outputs, encoder=encoder, head=head)
        enc = record["encoder"]
        if "shared" in enc:
            shared = enc["shared"]
            backbone = meta.get("backbone") or {}
            if any(shared.get(key) != backbone.get(key) for key in ("name", "image_size", "fingerprint")):
                raise HarError(f"bundle {folder.name}: its LiteRT encoder is not the backbone model.json records")
            path = encoders.find(shared, near)
            if path is None:
                raise HarError(f"bundle {folder.name}: its encoder {shared['file']} is not in any weights folder's "
                               f"{encoders.FOLDER}/ (or it changed): run `python -m har_core export {folder}`")
            encoder, dim = encoders.load(path), int(shared["feature_dim"])
            _expect(folder, encoder.model.input_shape, (size, size, 3), encoder.model.output_shape[-1], dim)
        else:
            encoder = _OwnEncoder(_lite(folder, enc["file"]))
            dim = int(np.prod(encoder.model.output_shape[1:]))
            _expect(folder, encoder.model.input_shape, (size, size, 3), dim, dim)
        head_rec = record["head"]
        if head_rec["kind"] == "linear":
            head: LinearHead | PoseHead | LiteModel = load_head(folder / head_rec["file"], dim, frames)
            _expect(folder, (frames, dim), (frames, dim), head.outputs, outputs)
        else:
            head = _lite(folder, head_rec["file"])
            _expect(folder, head.input_shape, (frames, dim), head.output_shape[-1], outputs)
        return cls(frames, size, outputs, encoder=encoder, head=head)

    def _clips(self, batch: np.ndarray) -> np.ndarray:
        return self._clip.run(batch)

    def _encode(self, frames: np.ndarray, state: dict | None) -> np.ndarray:
        return self._encoder.encode(frames, state) if self.sequential else self._encoder.encode(frames)

    def _head(self, sequences: np.ndarray) -> np.ndarray:
        if isinstance(self._head_model, (LinearHead, PoseHead)):
            return self._head_model.probs(sequences)
        return self._head_model.run(sequences.astype("float32"))


class _OwnEncoder:
    """A bundle's own per-frame LiteRT graph (the paper's LRCN CNN), behind SharedEncoder's `encode`; the
    predictor's lock serialises it."""

    def __init__(self, model: LiteModel):
        self.model = model

    def encode(self, frames: np.ndarray) -> np.ndarray:
        return self.model.run(frames).reshape(len(frames), -1)


def _pose_encoder(record: dict[str, Any], folder: Path) -> Any:
    """The process's BlazePose estimator, if it is the one model.json names (by the models' sha256)."""
    from ..pose.blazepose import estimator, read_manifest

    manifest = read_manifest()
    if any(record.get(part) != manifest[part]["sha256"] for part in ("detector", "landmarks")):
        raise HarError(f"bundle {folder.name} was taught with other body-pose models than weights/pose holds")
    return estimator()


def _expect(folder: Path, got_in: tuple, want_in: tuple, got_out: int, want_out: int) -> None:
    """A LiteRT part must take what model.json's sampler gives it and give the outputs its classes need."""
    if tuple(got_in) != tuple(want_in) or got_out != want_out:
        raise HarError(f"bundle {folder.name} is inconsistent: a LiteRT file takes {tuple(got_in)} and gives "
                       f"{got_out} outputs, model.json needs {tuple(want_in)} and {want_out}")


def _lite(folder: Path, name: str) -> LiteModel:
    path = folder / name
    if not path.is_file():
        raise HarError(f"bundle {folder.name}: {name} is missing")
    return LiteModel(path)


class KerasPredictor(Predictor):
    """Prediction in Keras (any backend): where a GPU is present, HAR_RUNTIME=keras, or a model has no LiteRT
    files."""

    runtime = "keras"

    def __init__(self, model: Any, n_outputs: int):
        from .builders import split_frame_encoder

        self.model, self.split = model, split_frame_encoder(model)
        super().__init__(int(model.input_shape[1]), int(model.input_shape[2]), n_outputs, self.split is not None)

    @property
    def device(self) -> str:
        from ..runtime.device import keras_device

        return keras_device()

    def _clips(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict_on_batch(batch)

    def _encode(self, frames: np.ndarray, state: dict | None) -> np.ndarray:
        return self.split.encoder.predict_on_batch(frames)

    def _head(self, sequences: np.ndarray) -> np.ndarray:
        return self.split.head.predict_on_batch(sequences)

