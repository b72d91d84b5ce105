"""har_core: the recognition engine behind HAR Studio (data, models, training, inference, download).

Submodules are imported on demand so that light users (the app's home page, `info`) never load Keras.
FFmpeg's own console lines (OpenCV's decoder: "moov atom not found", "Invalid NAL unit size") are turned off
here, before anything imports OpenCV: every unreadable input already gets one clear HarError line.
"""
import os

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when OpenCV loads FFmpeg

from .errors import HarError  # noqa: E402

__all__ = ["HarError"]
