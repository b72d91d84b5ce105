"""Reading and writing video: sequential decoding, the model's frame format, and H.264 output.

Decoding is always sequential (`grab` every frame, `retrieve` only the wanted ones): seeking with
CAP_PROP_POS_FRAMES is slower and inexact on some codecs. Container frame counts are only a hint;
the true count is what decodes.
"""
from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import HarError
from .sampling import ClipSampler

MIN_FRAMES = 2  # one frame is a still image, not an action
FALLBACK_FPS = 25.0


@dataclass(frozen=True)
class VideoInfo:
    """What a video really holds: `frames` is the decoded count, not the container's claim."""

    frames: int
    frames_reported: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0


@dataclass(frozen=True)
class SampledClip:
    """A model-ready clip: uint8 RGB frames (length, size, size, 3) and where they came from."""

    frames: np.ndarray
    source_frames: int
    indices: np.ndarray
    claimed_frames: int = 0

    @property
    def short(self) -> bool:
        return self.source_frames < len(self.indices)

    @property
    def truncated(self) -> bool:
        """Fewer frames decoded than the container claims: a cut-off download, or a lying header."""
        return self.source_frames < 0.9 * self.claimed_frames


_INTERPOLATION = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}


def to_model_frame(bgr: np.ndarray, sampler: ClipSampler = ClipSampler()) -> np.ndarray:
    """The one conversion from a decoded BGR frame to the model's input: RGB uint8 of the sampler's size, resized
    the sampler's way: a square, or (resize "fit", body pose) the frame's own shape with its long side at most
    the sampler's size, so that a body keeps its proportions."""
    size = sampler.image_size
    if sampler.resize == "fit":
        h, w = bgr.shape[:2]
        scale = min(1.0, size / max(h, w))
        small = bgr if scale == 1.0 else cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                   interpolation=cv2.INTER_AREA)
    else:
        small = cv2.resize(bgr, (size, size), interpolation=_INTERPOLATION[sampler.resize])
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)


def local_path(arg: str) -> str:
    """A video argument as a file path: file:// URLs become paths; other links are an error that says how to
    fetch them."""
    if arg.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(arg).path)
    if "://" in arg:
        raise HarError(f"{arg} is a link, not a file: fetch it first with `python -m har_core download URL` "
                       "(or use the Predict page's Video link)")
    return arg


def open_capture(path: str | os.PathLike) -> cv2.VideoCapture:
    """Open a video for sequential reading, or raise HarError saying why it cannot be read."""
    p = Path(local_path(str(path)))
    if not p.exists():
        raise HarError(f"no such file: {p}")
    if not p.is_file():
        raise HarError(f"not a file: {p}")
    if p.stat().st_size == 0:
        raise HarError(f"the file is empty: {p.name}")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise HarError(f"not a readable video: {p.name}")
    return cap


@dataclass(frozen=True)
class Header:
    """What the container claims, read without decoding: cheap, for limits and hints, never the truth
    about frame counts (see `probe`)."""

    frames: int
    fps: float
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def _header(cap: cv2.VideoCapture) -> Header:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return Header(
        frames=max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)),
        fps=float(fps) if fps and math.isfinite(fps) and 1.0 <= fps <= 240.0 else FALLBACK_FPS,
        width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
    )


def read_header(path: str | os.PathLike) -> Header:
    """The container's claims (frame count, fps or 25 where missing or absurd, size)."""
    cap = open_capture(path)
    try:
        return _header(cap)
    finally:
        cap.release()


def duration(path: str | os.PathLike) -> float:
    """Seconds of video: the container's claim (cheap, no decoding), or, when it claims no frame count (a
    browser's WebM), the frames decoded."""
    head = read_header(path)
    return head.duration if head.frames > 0 else probe(path).duration


def check_length(path: str | os.PathLike, max_seconds: float, shown_name: str | None = None) -> float:
    """A video's duration (see `duration`), refused past `max_seconds`; errors name the file as the user knows
    it (`shown_name`), not the stored copy."""
    try:
        seconds = duration(path)
    except HarError as exc:
        raise HarError(str(exc).replace(Path(path).name, shown_name or Path(path).name)) from None
    if seconds > max_seconds:
        raise HarError(f"the video is {seconds:.0f} s long; at most {max_seconds:.0f} s is allowed")
    return seconds


def probe(path: str | os.PathLike) -> VideoInfo:
    """Metadata of a video, counting its frames by decoding them (grab only, no colour conversion)."""
    cap = open_capture(path)
    try:
        head = _header(cap)
        frames = 0
        while cap.grab():
            frames += 1
    finally:
        cap.release()
    if frames == 0:
        raise HarError(f"no frame could be decoded from {Path(path).name}: not a video, or damaged")
    return VideoInfo(frames=frames, frames_reported=head.frames, fps=head.fps, width=head.width, height=head.height)


def _read_at(path: str | os.PathLike, wanted: set[int], sampler: ClipSampler) -> tuple[dict[int, np.ndarray], int]:
    """Decode sequentially, converting only the `wanted` frames; return them and the decoded count."""
    cap = open_capture(path)
    got: dict[int, np.ndarray] = {}
    n = 0
    try:
        while cap.grab():
            if n in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    got[n] = to_model_frame(frame, sampler)
            n += 1
    finally:
        cap.release()
    return got, n


def sample_clip(path: str | os.PathLike, sampler: ClipSampler = ClipSampler()) -> SampledClip:
    """The sampler's frames of the whole video (ClipSampler.clip_indices), as model frames of its size.

    One pass when the container's frame count is right; a second pass when it lied.
    """
    hint = read_header(path).frames
    wanted = set(sampler.clip_indices(hint).tolist()) if hint > 0 else set()
    got, n = _read_at(path, wanted, sampler)
    name = Path(path).name
    if n == 0:
        raise HarError(f"no frame could be decoded from {name}: not a video, or damaged")
    if n < MIN_FRAMES:
        if hint > n:
            raise HarError(f"{name} is damaged or truncated: {n} of its {hint} frames could be decoded")
        raise HarError(f"{name} has only {n} frame; need at least {MIN_FRAMES} to see an action")
    indices = sampler.clip_indices(n)
    missing = set(indices.tolist()) - got.keys()
    if missing:
        more, _ = _read_at(path, missing, sampler)
        got.update(more)
        missing -= more.keys()
    if missing:
        raise HarError(f"{name} is damaged: frame {min(missing)} could not be decoded")
    frames = np.stack([got[i] for i in indices.tolist()])
    return SampledClip(frames=frames, source_frames=n, indices=indices, claimed_frames=hint)


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Every decodable BGR frame of a video, in order."""
    cap = open_capture(path)
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield frame
    finally:
        cap.release()


def iter_every(path: str | os.PathLike, step: int, sampler: ClipSampler) -> Iterator[tuple[int, np.ndarray | None]]:
    """(index, model frame) for every decoded frame; the frame is converted only when index % step == 0."""
    cap = open_capture(path)
    n = 0
    try:
        while cap.grab():
            frame = None
            if n % step == 0:
                ok, bgr = cap.retrieve()
                frame = to_model_frame(bgr, sampler) if ok and bgr is not None else None
            yield n, frame
            n += 1
    finally:
        cap.release()


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, at once set back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


WRITER_IDLE_S = 60.0  # an H264Writer with no frame for this long gives up (see H264Writer._encode)


class H264Writer:
    """Writes BGR frames as browser-playable H.264 MP4 (PyAV libx264 superfast, yuv420p, faststart).

    Frames go to a temporary file beside the target, which replaces the target only on a clean close,
    so a failure never leaves a half-written video behind. Odd sizes lose their last row/column
    (yuv420p needs even dimensions). x264 runs on a thread of its own (PyAV lets go of the GIL while it
    encodes), so the caller decodes and classifies the next frames meanwhile: encoding is the largest part of
    an annotation (benchmarks.runtime).
    """

    def __init__(self, path: str | os.PathLike, fps: float, width: int, height: int, crf: int = 23):
        import av  # PyAV comes with streamlit-webrtc; imported here so reading needs no FFmpeg bindings

        self.path = Path(path)
        self.width, self.height = width - width % 2, height - height % 2
        if self.width < 2 or self.height < 2:
            raise HarError(f"cannot encode a {width}x{height} video")
        fd, tmp = tempfile.mkstemp(suffix=".mp4", prefix=".partial-", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._container = av.open(str(self._tmp), mode="w", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        # superfast: the same quality target (CRF) as veryfast in 3/4 of the time, files ~1.8x larger (a 30 s
        # 640x360 annotation: 1.7 MB); x264's frame threads ("AUTO") rather than one slice: 2.1 -> 1.7 s there
        self._stream.options = {"crf": str(crf), "preset": "superfast"}
        self._stream.codec_context.thread_type = "AUTO"
        self._av = av
        self.frames = 0
        self._frames: queue.Queue = queue.Queue(maxsize=16)  # a bound: a slow encoder holds the caller back
        self._failure: Exception | None = None
        self._encoder = threading.Thread(target=self._encode, name="h264-writer", daemon=True)
        self._encoder.start()

    def _encode(self) -> None:
        """The encoder thread: frames until None (flush); after a failure it only drains the queue. A writer left
        without a frame for WRITER_IDLE_S (a webcam take whose visitor went away) closes and removes its file."""
        while True:
            try:
                frame = self._frames.get(timeout=WRITER_IDLE_S)
            except queue.Empty:
                self._failure = TimeoutError(f"no frame came for {WRITER_IDLE_S:.0f} s")
                self._discard()
                return
            if self._failure is None:
                try:
                    for packet in self._stream.encode(frame):
                        self._container.mux(packet)
                except Exception as exc:  # noqa: BLE001  raised on the caller's thread by write/close
                    self._failure = exc
            if frame is None:
                return

    def _check(self) -> None:
        if self._failure is not None:
            raise HarError(f"could not write {self.path.name}: {str(self._failure)[:120]}")

    def write(self, bgr: np.ndarray) -> None:
        self._check()
        # from_ndarray copies the pixels: the caller may draw on `bgr` again at once
        self._frames.put(self._av.VideoFrame.from_ndarray(
            np.ascontiguousarray(bgr[: self.height, : self.width]), format="bgr24"))
        self.frames += 1

    def _finish(self) -> None:
        if self._encoder.is_alive():
            self._frames.put(None)
            self._encoder.join()

    def close(self) -> None:
        self._finish()
        if self._failure is not None:
            self._discard()
        self._check()
        self._container.close()
        self._tmp.chmod(0o666 & ~_umask())  # mkstemp made it private; the result gets the user's usual mode
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._finish()
        self._discard()

    def _discard(self) -> None:
        try:
            self._container.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "H264Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def video_codec(path: str | os.PathLike) -> str:
    """The codec name of a file's first video stream, as FFmpeg names it (e.g. 'h264')."""
    import av

    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.name
