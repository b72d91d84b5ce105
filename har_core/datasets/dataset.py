"""UCF50-layout datasets: scanning, groups, and the uint8 clip cache built in parallel.

Layout: `<root>/<Class>/v_<Class>_gNN_cMM.avi` (mp4, mov, mkv and webm are accepted too). `gNN` is the
group: clips of one group are cut from one source video, so splits must keep a group on one side.
A dataset may span several roots (UCF50 and more UCF101 classes, say): they merge by class name.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Sequence

import numpy as np

from ..config import IMAGE_SIZE, SEQUENCE_LENGTH, VIDEO_EXTENSIONS, settings
from ..errors import HarError
from ..media.sampling import ClipSampler
from ..media.video import sample_clip
from .ucf_classes import origin

_NAME = re.compile(r"_g(\d+)_c(\d+)$", re.IGNORECASE)
CACHE_FORMAT = 1

Progress = Callable[[int, int], None]  # (done, total)
Roots = str | os.PathLike | Sequence[str | os.PathLike]  # one folder, several, or an os.pathsep-joined list


@dataclass(frozen=True)
class Clip:
    """One video of the dataset. `group` is 'gNN', or the file's stem when the name has none."""

    path: Path
    label: str
    group: str


@dataclass
class DatasetIndex:
    roots: list[Path]
    clips: list[Clip]

    @property
    def classes(self) -> list[str]:
        return sorted({c.label for c in self.clips})

    def by_class(self) -> dict[str, list[Clip]]:
        out: dict[str, list[Clip]] = {c: [] for c in self.classes}
        for clip in self.clips:
            out[clip.label].append(clip)
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """Clips and distinct groups per class."""
        return {
            label: {"clips": len(clips), "groups": len({c.group for c in clips})}
            for label, clips in self.by_class().items()
        }

    def sources(self) -> dict[str, dict[str, str]]:
        """Per class: the folder(s) its clips come from and its origin (UCF50, UCF101 or own)."""
        out = {}
        for label, clips in self.by_class().items():
            parents = {c.path.parent for c in clips}
            folders = [str(root / label) for root in self.roots if root / label in parents]
            out[label] = {"folders": ", ".join(folders), "origin": origin(label)}
        return out

    def select(self, classes: Iterable[str] | None) -> "DatasetIndex":
        """The same dataset restricted to `classes` (all when None); unknown names are an error."""
        if classes is None:
            return self
        wanted = list(dict.fromkeys(classes))
        unknown = [c for c in wanted if c not in self.classes]
        if unknown:
            raise HarError(f"unknown class {unknown[0]!r}; the data has: {', '.join(self.classes)}")
        return DatasetIndex(self.roots, [c for c in self.clips if c.label in wanted])


def group_of(path: Path) -> str:
    m = _NAME.search(path.stem)
    return f"g{int(m.group(1)):02d}" if m else path.stem


def as_roots(roots: Roots) -> list[Path]:
    """The folders `roots` names, in order and each once; a string may join several with os.pathsep (':')."""
    items = [roots] if isinstance(roots, (str, os.PathLike)) else list(roots)
    paths = [Path(part).expanduser() for item in items for part in str(item).split(os.pathsep) if part.strip()]
    if not paths:
        raise HarError("no data folder given")
    return list(dict.fromkeys(paths))


def _scan_root(root: Path) -> list[Clip]:
    if not root.is_dir():
        raise HarError(f"no data folder at {root}")
    clips = [
        Clip(path=f, label=d.name, group=group_of(f))
        for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for f in sorted(d.iterdir())
        if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS
    ]
    if not clips:
        raise HarError(f"no videos in {root}: expected <root>/<Class>/v_<Class>_gNN_cMM.avi")
    return clips


def scan(roots: Roots) -> DatasetIndex:
    """Index every video under each `root/<Class>/`, merged by class name and sorted for reproducibility.

    Two clips with one name (v_X_g01_c01.avi here and v_X_g01_c01.mp4 there) are one clip copied twice, which
    would put it on both sides of a split: that is an error naming both files.
    """
    folders = as_roots(roots)
    seen: dict[str, Path] = {}
    clips = []
    for clip in (c for root in folders for c in _scan_root(root)):
        first = seen.setdefault(clip.path.stem.lower(), clip.path)
        if first != clip.path:
            raise HarError(f"two clips share the name {clip.path.stem}: {first} and {clip.path}; keep one")
        clips.append(clip)
    clips.sort(key=lambda c: (c.label, c.path.name))
    return DatasetIndex(roots=folders, clips=clips)


@dataclass
class ExtractResult:
    """Cached clips in dataset order; short and failed clips are reported, never silently dropped."""

    clips: list[Clip]
    paths: list[Path]
    source_frames: list[int]
    failed: list[tuple[Clip, str]] = field(default_factory=list)
    from_cache: int = 0

    @property
    def short(self) -> list[tuple[Clip, int]]:
        """Clips with fewer frames than the sequence length (their frames were repeated)."""
        length = SEQUENCE_LENGTH
        return [(c, n) for c, n in zip(self.clips, self.source_frames) if n < length]


def cache_dir_for(cache_root: Path, length: int, size: int) -> Path:
    return Path(cache_root) / f"clips-v{CACHE_FORMAT}-L{length}-S{size}-rgb"


def cache_key(path: Path) -> str:
    """File identity: absolute path, size and modification time (content changes invalidate)."""
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:20]


def write_clip(fh: BinaryIO, frames: np.ndarray, source_frames: int) -> None:
    """The cache's record of one sampled clip, as `load_cached` reads it: the one layout a local run and a
    cluster worker (har_core.cluster) both write."""
    np.savez(fh, frames=frames, source_frames=np.int64(source_frames))


def load_cached(path: Path) -> np.ndarray:
    with np.load(path) as z:
        return z["frames"]


def _extract_one(clip: Clip, folder: Path, length: int, size: int) -> tuple[Path, int, bool]:
    target = folder / f"{cache_key(clip.path)}.npz"
    if target.exists():
        with np.load(target) as z:
            return target, int(z["source_frames"]), True
    sampled = sample_clip(clip.path, ClipSampler(length, size))
    fd, tmp = tempfile.mkstemp(suffix=".npz", prefix=".partial-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write_clip(fh, sampled.frames, sampled.source_frames)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target, sampled.source_frames, False


def extract(
    clips: list[Clip],
    cache_root: str | os.PathLike | None = None,
    length: int = SEQUENCE_LENGTH,
    size: int = IMAGE_SIZE,
    workers: int | None = None,
    progress: Progress | None = None,
) -> ExtractResult:
    """Sample every clip once into the uint8 cache (threads: OpenCV releases the GIL while decoding).

    Clips already cached under the same file identity and sampler settings are reused.
    """
    folder = cache_dir_for(Path(cache_root or settings().cache_dir), length, size)
    folder.mkdir(parents=True, exist_ok=True)
    workers = workers or os.cpu_count() or 1
    results: dict[int, tuple[Path, int, bool]] = {}
    failed: list[tuple[Clip, str]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_extract_one, c, folder, length, size): i for i, c in enumerate(clips)}
        for done, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except HarError as exc:
                failed.append((clips[i], str(exc)))
            if progress:
                progress(done, len(clips))
    kept = sorted(results)
    return ExtractResult(
        clips=[clips[i] for i in kept],
        paths=[results[i][0] for i in kept],
        source_frames=[results[i][1] for i in kept],
        failed=failed,
        from_cache=sum(results[i][2] for i in kept),
    )
