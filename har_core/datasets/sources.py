"""Where a video comes from (an upload, a link, a dataset folder) with this server's rules for each, set in one
place for every page and the CLI: the size and length limits, and, when hosted, only the allowed sites and no
private addresses for links (config.settings)."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import settings
from ..media.download import Progress, download
from ..media.uploads import MODEL_SUFFIXES, SessionFolder
from ..media.video import check_length
from .dataset import DatasetIndex, scan

MB = 1024 * 1024


def save_upload(folder: SessionFolder, data: bytes, name: str) -> Path:
    """An uploaded video kept in the visitor's folder (at most HAR_MAX_UPLOAD_MB)."""
    return folder.save_upload(data, name, int(settings().max_upload_mb * MB))


def save_model_upload(folder: SessionFolder, data: bytes, name: str) -> Path:
    """An uploaded model file kept in the visitor's folder (at most HAR_MAX_IMPORT_MB)."""
    return folder.save_upload(data, name, int(settings().max_import_mb * MB), allowed=MODEL_SUFFIXES,
                              what="model file")


def fetch_link(url: str, cache_dir: str | os.PathLike | None = None, max_seconds: float | None = None,
               progress: Progress | None = None) -> Path:
    """The video a link points to, downloaded under the limits (and, hosted, the allowed sites only)."""
    s = settings()
    return download(url, cache_dir, max_seconds=max_seconds or s.max_video_seconds, max_bytes=int(s.max_upload_mb * MB),
                    allowed_hosts=s.allowed_url_hosts if s.hosted else None, allow_private=not s.hosted,
                    progress=progress)


def check_video(path: str | os.PathLike, shown_name: str | None = None) -> float:
    """A chosen video's length in seconds, or a one-line error when it is over HAR_MAX_VIDEO_SECONDS."""
    return check_length(path, settings().max_video_seconds, shown_name)


def dataset() -> DatasetIndex:
    """The clips in the configured data folders (HAR_DATA_DIR, else ../shared/data/ucf50)."""
    return scan(settings().data_dirs)
