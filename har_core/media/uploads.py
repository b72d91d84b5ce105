"""Per-session scratch folders for uploads, downloads' copies and annotated outputs.

User-given file names are never used as paths: a file is stored as `<kind>-<n><ext>` with the extension
checked against the video types we accept (and a UCF-style `_gNN_cMM` group suffix, digits only, kept so that
examples of one person or source video stay one group). Folders are removed when the session ends (or the object is
garbage-collected), and `sweep_stale` removes what a crashed process left behind.
"""
from __future__ import annotations

import itertools
import re
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import BinaryIO

from ..config import VIDEO_EXTENSIONS
from ..errors import HarError

PREFIX = "har-session-"
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".zip")  # what `har_core.models.importer` reads
_GROUP = re.compile(r"_g(\d{1,4})_c(\d{1,4})$", re.IGNORECASE)


def scratch_root() -> Path:
    root = Path(tempfile.gettempdir()) / "har_studio"
    root.mkdir(parents=True, exist_ok=True)
    return root


class SessionFolder:
    def __init__(self, root: Path | None = None):
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root or scratch_root()))
        self._count = itertools.count(1)
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def new_path(self, kind: str, ext: str) -> Path:
        """A fresh file name in this session's folder (never derived from user input)."""
        return self.path / f"{kind}-{next(self._count)}{ext}"

    def save_upload(self, data: BinaryIO | bytes, original_name: str, max_bytes: int | None = None,
                    allowed: tuple[str, ...] = VIDEO_EXTENSIONS, what: str = "video") -> Path:
        """Store an uploaded file (a video unless `allowed` says otherwise); only its extension is taken from
        the user's file name."""
        ext = Path(original_name or "").suffix.lower()
        if ext not in allowed:
            raise HarError(f"not a supported {what} type ({ext or 'no extension'}); use {', '.join(allowed)}")
        raw = data if isinstance(data, bytes) else data.read()
        if not raw:
            raise HarError("the uploaded file is empty")
        if max_bytes is not None and len(raw) > max_bytes:
            raise HarError(f"the file is larger than the {max_bytes / (1024 * 1024):.3g} MB allowed")
        group = _GROUP.search(Path(original_name or "").stem)
        target = self.new_path("upload", f"_g{int(group[1]):02d}_c{int(group[2]):02d}{ext}" if group else ext)
        target.write_bytes(raw)
        return target

    def cleanup(self) -> None:
        self._finalizer()


def sweep_stale(max_age_s: float = 6 * 3600, root: Path | None = None) -> int:
    """Remove session folders older than `max_age_s` (left by crashed or killed servers)."""
    root = root or scratch_root()
    removed = 0
    for p in root.glob(PREFIX + "*"):
        if p.is_dir() and time.time() - p.stat().st_mtime > max_age_s:
            shutil.rmtree(p, ignore_errors=True)
            removed += 1
    return removed
