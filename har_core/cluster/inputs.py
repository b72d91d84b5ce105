"""The videos `annotate-many` was given: folders (searched through), list files (one path a line, relative to
the list), globs, or video files; and the name each one's outputs take."""
from __future__ import annotations

import glob
from pathlib import Path

from ..config import VIDEO_EXTENSIONS
from ..errors import HarError

GLOB_CHARS = "*?["


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def _listed(list_file: Path) -> list[Path]:
    """A list file's videos: one a line, blank lines and lines starting with # skipped. A listed video that is
    missing is not an error here: it fails by name in the job, the others go on."""
    try:
        lines = list_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarError(f"cannot read the list {list_file}: {exc.__class__.__name__}") from None
    return [list_file.parent / line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def collect(args: list[str], skip: Path | None = None) -> list[Path]:
    """Every video the arguments name, each once (absolute), in the order given; files under `skip` (the
    output folder, which may sit inside an input folder) are left out."""
    found: list[Path] = []
    for arg in args:
        path = Path(arg).expanduser()
        if any(c in arg for c in GLOB_CHARS):
            matches = [Path(m) for m in sorted(glob.glob(str(path), recursive=True)) if _is_video(Path(m))]
            if not matches:
                raise HarError(f"no video matches {arg}")
            found += matches
        elif path.is_dir():
            videos = sorted(p for p in path.rglob("*") if p.is_file() and _is_video(p))
            if not videos:
                raise HarError(f"no videos in {arg} ({', '.join(VIDEO_EXTENSIONS)})")
            found += videos
        elif path.is_file():
            found += [path] if path.suffix.lower() in VIDEO_EXTENSIONS else _listed(path)
        else:
            raise HarError(f"no such file or folder: {arg}")
    videos = list(dict.fromkeys(p.resolve() for p in found))
    if skip is not None:
        videos = [v for v in videos if not v.is_relative_to(skip)]
    if not videos:
        raise HarError("no videos to annotate")
    return videos


def output_names(videos: list[Path]) -> list[str]:
    """Each video's output name, its file name without the extension; two videos of one name would write
    the same files, which is an error naming both."""
    seen: dict[str, Path] = {}
    for video in videos:
        first = seen.setdefault(video.stem, video)
        if first != video:
            raise HarError(f"two videos share the name {video.stem}: {first} and {video}; annotate them in "
                           "separate runs (separate --out folders) or rename one")
    return [v.stem for v in videos]
