"""Defaults and environment-driven settings, in one place.

Every setting a deployer may change is read here from the environment (see README, "Settings").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent

SEQUENCE_LENGTH = 20
IMAGE_SIZE = 64
# Span of one classified window in seconds when a model bundle does not say otherwise: roughly the
# median length of a UCF50 clip, which is what a training clip's 20 frames are spread over.
DEFAULT_WINDOW_SECONDS = 6.4
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mov", ".mkv", ".webm")


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def _env_paths(name: str, default: tuple[Path, ...]) -> tuple[Path, ...]:
    """A path list like PATH: folders joined with os.pathsep (':' on Linux and macOS). Unset, the default's
    folders that exist (or its first, for the page that explains how to get data)."""
    parts = [p for p in os.environ.get(name, "").split(os.pathsep) if p.strip()]
    if parts:
        return tuple(Path(p).expanduser() for p in parts)
    return tuple(p for p in default if p.is_dir()) or default[:1]


def local_path(location: str) -> Path:
    """A folder given as a path or a file:// URL, as a path (an object-store URI stays as it is written: only the
    cluster commands write there, through pyarrow)."""
    if location.startswith("file://"):
        return Path(unquote(urlparse(location).path))
    return Path(location).expanduser()


def is_object_store(location: str | os.PathLike) -> bool:
    """Whether a location is a URI other than file:// (s3://, gs://, abfs://, hdfs://)."""
    scheme = urlparse(str(location)).scheme
    return "://" in str(location) and len(scheme) > 1 and scheme != "file"


@dataclass(frozen=True)
class Settings:
    """Deployment settings; build with `Settings.from_env()`."""

    data_dirs: tuple[Path, ...]  # one dataset, merged by class name across these folders
    weights_dir: Path
    cache_dir: Path  # HAR_CACHE_DIR as a folder (a file:// URL becomes its path)
    cache_uri: str  # HAR_CACHE_DIR as written: the cluster commands also take an object-store URI here
    hosted: bool
    allow_training: bool
    max_upload_mb: float
    max_video_seconds: float
    max_import_mb: float
    allowed_url_hosts: tuple[str, ...]
    ice_servers_json: str
    teach_max_activities: int
    teach_max_examples: int
    teach_max_clip_seconds: float
    teach_max_models: int  # per visit of a hosted server (a model holds ~20 MB and its network in memory)
    runtime: str  # "auto" (LiteRT on the CPU, Keras where a GPU is present), "litert" or "keras"

    @classmethod
    def from_env(cls) -> "Settings":
        hosted = _env_bool("HAR_HOSTED", False)
        hosts = os.environ.get("HAR_URL_HOSTS", "youtube.com,youtu.be,m.youtube.com,www.youtube.com")
        cache = os.environ.get("HAR_CACHE_DIR") or str(Path.home() / ".cache" / "har_studio")
        return cls(
            data_dirs=_env_paths("HAR_DATA_DIR", tuple(PROJECT_DIR.parent / "shared" / "data" / name
                                                       for name in ("ucf50", "ucf101_extra"))),
            weights_dir=Path(os.environ.get("HAR_WEIGHTS_DIR") or PROJECT_DIR / "weights"),
            cache_dir=local_path(cache),
            cache_uri=cache,
            hosted=hosted,
            allow_training=_env_bool("HAR_ALLOW_TRAINING", not hosted),
            max_upload_mb=_env_float("HAR_MAX_UPLOAD_MB", 200.0),
            max_video_seconds=_env_float("HAR_MAX_VIDEO_SECONDS", 600.0),
            max_import_mb=_env_float("HAR_MAX_IMPORT_MB", 200.0),
            allowed_url_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
            ice_servers_json=os.environ.get("HAR_ICE_SERVERS", ""),
            teach_max_activities=int(_env_float("HAR_TEACH_MAX_ACTIVITIES", 10)),
            teach_max_examples=int(_env_float("HAR_TEACH_MAX_EXAMPLES", 60)),
            teach_max_clip_seconds=_env_float("HAR_TEACH_MAX_SECONDS", 30.0),
            teach_max_models=int(_env_float("HAR_TEACH_MAX_MODELS", 3)),
            runtime=(os.environ.get("HAR_RUNTIME") or "auto").strip().lower(),
        )


def settings() -> Settings:
    """Current settings (read fresh so tests and deployers can change the environment)."""
    return Settings.from_env()

