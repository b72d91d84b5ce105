"""Downloading a video from a link with yt-dlp, into a cache folder, with limits and clear errors."""
from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin, urlparse

from ..config import settings
from ..errors import HarError
from .video import read_header

Progress = Callable[[float, str], None]
Hop = Callable[[str], tuple[int, str | None]]  # one request, no redirect followed: (status, Location header)
MAX_HOPS = 5


def check_url(url: str, allowed_hosts: tuple[str, ...] | None = None, allow_private: bool = True) -> str:
    """Validate a link before anything is fetched: http(s) only, optional host allow-list, and (when
    hosted) no loopback or private addresses."""
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise HarError("not a valid video link: give an http(s) URL")
    host = parsed.hostname.lower()
    if allowed_hosts is not None and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        raise HarError(f"links from {host} are not allowed here; allowed: {', '.join(allowed_hosts)}")
    if not allow_private:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(host, parsed.port or 443)}
        except OSError:
            raise HarError(f"no network, or unknown host: {host}") from None
        for addr in addresses:
            ip = ipaddress.ip_address(addr.split("%")[0])
            if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
                raise HarError(f"links to private or local addresses are not allowed: {host}")
    return url


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:  # hand every 3xx back to follow_redirects
        return None


def _head(url: str) -> tuple[int, str | None]:
    """A HEAD request that does not follow redirects: its status and Location."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "HAR Studio"})
    try:
        with opener.open(request, timeout=15) as resp:
            return resp.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location")
    except (urllib.error.URLError, OSError):
        return 0, None  # unreachable: yt-dlp then says why, in its words


def follow_redirects(url: str, allowed_hosts: tuple[str, ...] | None = None, allow_private: bool = True,
                     hop: Hop = _head) -> str:
    """The address a link finally points to, every hop checked with `check_url`'s rules before it is
    requested: a link on an allowed site that redirects to a private address or another site is refused."""
    for _ in range(MAX_HOPS + 1):
        url = check_url(url, allowed_hosts, allow_private)
        status, location = hop(url)
        if status not in (301, 302, 303, 307, 308) or not location:
            return url
        url = urljoin(url, location)
    raise HarError(f"the link redirects more than {MAX_HOPS} times")


def _explain(message: str) -> str:
    """Turn a yt-dlp error into one line a user can act on."""
    m = message.lower()
    if "unsupported url" in m:
        return "no video found at that link"
    if "max_filesize" in m or "file is larger" in m:
        return "the video file is larger than allowed"
    if any(s in m for s in ("name or service not known", "failed to resolve", "temporary failure in name",
                            "nodename nor servname", "getaddrinfo failed", "no address associated")):
        return "no network, or unknown host"
    if any(s in m for s in ("connection refused", "timed out", "network is unreachable", "unable to connect")):
        return "could not reach the server (no network?)"
    if any(s in m for s in ("video unavailable", "private video", "404", "410", "has been removed", "not available")):
        return "the video is unavailable"
    if "sign in to confirm" in m:
        return "YouTube refused this server (it asks to sign in); try an upload instead"
    return message.replace("ERROR: ", "").strip().splitlines()[0][:200]


def download(
    url: str,
    cache_dir: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    max_bytes: int | None = 200 * 1024 * 1024,
    allowed_hosts: tuple[str, ...] | None = None,
    allow_private: bool = True,
    progress: Progress | None = None,
) -> Path:
    """Fetch one video (not a playlist) and return its path; reuse a previous download of the same URL."""
    import yt_dlp

    url = follow_redirects(url, allowed_hosts, allow_private)
    max_seconds = max_seconds if max_seconds is not None else settings().max_video_seconds
    folder = Path(cache_dir or settings().cache_dir / "downloads")
    folder.mkdir(parents=True, exist_ok=True)
    stem = hashlib.sha1(url.encode()).hexdigest()[:16]
    done = [p for p in folder.glob(f"{stem}.*") if not p.name.endswith((".part", ".ytdl"))]
    if done:
        return done[0]

    def hook(d: dict) -> None:
        if progress and d.get("status") == "downloading":
            total = d.get("total_bytes") or d.get("total_bytes_estimate") or 0
            progress(min(1.0, d.get("downloaded_bytes", 0) / total) if total else 0.0, "downloading")

    def too_long(info: dict, *, incomplete: bool = False) -> str | None:
        duration = info.get("duration")
        if duration and duration > max_seconds:
            return f"the video is {duration:.0f} s long; at most {max_seconds:.0f} s is allowed"
        return None

    opts = {
        "outtmpl": str(folder / f"{stem}.%(ext)s"),
        "format": "best[ext=mp4][height<=720]/best[height<=720]/best",
        "noplaylist": True, "quiet": True, "no_warnings": True, "noprogress": True,
        "max_filesize": max_bytes, "match_filter": too_long, "progress_hooks": [hook],
        "socket_timeout": 20, "retries": 1, "logger": _QuietLogger(),
    }
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
    except yt_dlp.utils.DownloadError as exc:
        raise HarError(_explain(str(exc))) from None
    if info is None:
        raise HarError("no video found at that link")
    files = [p for p in folder.glob(f"{stem}.*") if not p.name.endswith((".part", ".ytdl"))]
    reason = too_long(info)
    if not reason and files:
        try:
            reason = too_long({"duration": read_header(files[0]).duration})
        except HarError as exc:
            reason = f"the download is not a readable video ({exc})"
    if reason or not files:
        for p in folder.glob(f"{stem}.*"):
            p.unlink(missing_ok=True)
        raise HarError(reason or "the video was larger than allowed, or could not be saved")
    return files[0]


class _QuietLogger:
    """yt-dlp logs through this; errors come back as exceptions, so nothing is printed."""

    def debug(self, msg: str) -> None: ...

    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...

    def error(self, msg: str) -> None: ...
