"""Getting UCF50: a streamed download with progress, RAR tool detection, and extraction into place.

The official archive is a RAR of several GB. It is downloaded to `<name>.part` and renamed only when complete,
so an interrupted download never looks finished. Extraction needs an external tool (unrar, 7z or
bsdtar); it unpacks into a temporary folder beside the target and moves the class folders into place
only when the tool succeeded, so a failed extraction leaves no half-filled data folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from ..config import VIDEO_EXTENSIONS
from ..errors import HarError

OFFICIAL_URL = "https://www.crcv.ucf.edu/data/UCF50.rar"
LAYOUT = "<data folder>/<Class>/v_<Class>_gNN_cMM.avi — 50 class folders, 6,676 clips (the archive's UCF50/ folder)"
# Tried in this order; the value is how each one extracts `archive` into `dest`.
RAR_TOOLS: dict[str, Callable[[str, str, str], list[str]]] = {
    "unrar": lambda exe, archive, dest: [exe, "x", "-o+", "-y", "-idq", archive, dest + os.sep],
    "7z": lambda exe, archive, dest: [exe, "x", "-y", "-bd", f"-o{dest}", archive],
    "7zz": lambda exe, archive, dest: [exe, "x", "-y", "-bd", f"-o{dest}", archive],
    "bsdtar": lambda exe, archive, dest: [exe, "-x", "-f", archive, "-C", dest],
}
INSTALL_HINT = ("no RAR tool found: install one of unrar, 7z (Debian/Ubuntu: apt install 7zip) or bsdtar "
                "(apt install libarchive-tools), then extract again")

Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None when unknown)


def source_url() -> str:
    """Where UCF50 is downloaded from: HAR_UCF50_URL (mirrors, offline tests) or the official address."""
    return os.environ.get("HAR_UCF50_URL", "").strip() or OFFICIAL_URL


def find_rar_tool() -> tuple[str, str] | None:
    """(name, executable) of the first RAR-capable tool on PATH, or None."""
    for name in RAR_TOOLS:
        exe = shutil.which(name)
        if exe:
            return name, exe
    return None


def archive_name(url: str) -> str:
    """A safe local file name for the archive (only the URL's last path part, never a path)."""
    name = Path(unquote(urlparse(url).path)).name
    return name if name and not name.startswith(".") and len(name) <= 100 else "UCF50.rar"


def download(url: str, dest_dir: str | os.PathLike, progress: Progress | None = None,
             chunk_size: int = 1 << 20, timeout: float = 30.0) -> Path:
    """Stream `url` into `dest_dir` and return the finished file; an existing finished file is reused."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise HarError(f"not a valid download address: {url!r}")
    folder = Path(dest_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / archive_name(url)
    if target.is_file() and target.stat().st_size > 0:
        return target
    part = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            with open(part, "wb") as fh:
                while block := resp.read(chunk_size):
                    fh.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    except urllib.error.HTTPError as exc:
        part.unlink(missing_ok=True)
        raise HarError(f"the download failed: the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise HarError(f"the download failed: could not reach {parsed.hostname} ({reason})") from None
    except BaseException:  # e.g. the page was left mid-download (Streamlit stops the script): no .part left
        part.unlink(missing_ok=True)
        raise
    if done == 0 or (total is not None and done != total):
        part.unlink(missing_ok=True)
        raise HarError(f"the download was incomplete ({done} of {total or '?'} bytes); try again")
    os.replace(part, target)
    return target


def _has_videos(folder: Path) -> bool:
    return any(f.suffix.lower() in VIDEO_EXTENSIONS for d in folder.iterdir() if d.is_dir()
               for f in d.iterdir() if f.is_file())


def find_root(folder: Path, depth: int = 3) -> Path | None:
    """The folder that holds <Class>/<video> folders: `folder` itself or one below it (e.g. UCF50/)."""
    if not folder.is_dir():
        return None
    if _has_videos(folder):
        return folder
    if depth > 0:
        for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
            found = find_root(child, depth - 1)
            if found is not None:
                return found
    return None


def extract(archive: str | os.PathLike, data_dir: str | os.PathLike, tool: tuple[str, str] | None = None,
            timeout: float = 4 * 3600) -> Path:
    """Unpack a UCF50 archive so that `data_dir/<Class>/*.avi` exists; returns `data_dir`.

    `data_dir` must not exist yet, or be empty: an existing dataset is never overwritten.
    """
    archive, data_dir = Path(archive), Path(data_dir)
    if not archive.is_file():
        raise HarError(f"no archive at {archive}")
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise HarError(f"{data_dir} already exists and is not empty; choose an empty or new folder")
    tool = tool or find_rar_tool()
    if tool is None:
        raise HarError(INSTALL_HINT)
    name, exe = tool
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".ucf50-extract-", dir=data_dir.parent))
    try:
        try:
            run = subprocess.run(RAR_TOOLS[name](exe, str(archive), str(work)), capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarError(f"{name} did not finish extracting in {timeout:.0f} s") from None
        if run.returncode != 0:
            detail = (run.stderr or run.stdout).strip().splitlines()
            raise HarError(f"{name} could not extract {archive.name}: {detail[-1] if detail else 'exit ' + str(run.returncode)}")
        root = find_root(work)
        if root is None:
            raise HarError(f"{archive.name} holds no <Class>/<video> folders; expected {LAYOUT}")
        if data_dir.exists():
            data_dir.rmdir()
        os.replace(root, data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return data_dir
