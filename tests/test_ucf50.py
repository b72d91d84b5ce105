"""har_core.datasets.ucf50: streamed download from a local HTTP server, RAR tool detection, extraction into place."""
from __future__ import annotations

import functools
import http.server
import socket
import struct
import threading
import zlib
from pathlib import Path
from typing import Iterator

import pytest

from har_core.datasets import ucf50
from har_core.datasets.dataset import scan
from har_core.errors import HarError


def make_rar(path: Path, files: dict[str, bytes]) -> Path:
    """A RAR 4 archive with stored (uncompressed) members, written by hand: no `rar` tool is needed.

    Layout: marker, archive header, one file header + data per member, end block. Header CRC is the low
    16 bits of CRC32 over the header from its type byte on.
    """
    def block(head_type: int, flags: int, body: bytes) -> bytes:
        head = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
        return struct.pack("<H", zlib.crc32(head) & 0xFFFF) + head

    out = [b"Rar!\x1a\x07\x00", block(0x73, 0, b"\x00" * 6)]
    for name, data in files.items():
        encoded = name.replace("/", "\\").encode()
        body = struct.pack("<IIBIIBBHI", len(data), len(data), 0, zlib.crc32(data), 0x5A210000, 20, 0x30,
                           len(encoded), 0x20) + encoded
        out += [block(0x74, 0x8000, body), data]
    out.append(block(0x7B, 0x4000, b""))
    path.write_bytes(b"".join(out))
    return path


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A `python -m http.server`-style server on loopback serving tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_source_url_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAR_UCF50_URL", raising=False)
    assert ucf50.source_url() == "https://www.crcv.ucf.edu/data/UCF50.rar"
    monkeypatch.setenv("HAR_UCF50_URL", "http://127.0.0.1:9/x.rar")
    assert ucf50.source_url() == "http://127.0.0.1:9/x.rar"


def test_download_streams_with_progress_and_renames_part(http_root: tuple[Path, str], tmp_path: Path) -> None:
    served, base = http_root
    payload = bytes(range(256)) * 4000  # ~1 MB, several chunks
    (served / "UCF50.rar").write_bytes(payload)
    seen: list[tuple[int, int | None]] = []
    out = ucf50.download(f"{base}/UCF50.rar", tmp_path / "dl", progress=lambda d, t: seen.append((d, t)),
                         chunk_size=64 * 1024)
    assert out == tmp_path / "dl" / "UCF50.rar"
    assert out.read_bytes() == payload
    assert not list((tmp_path / "dl").glob("*.part"))
    assert len(seen) >= len(payload) // (64 * 1024)
    assert seen[-1] == (len(payload), len(payload))
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))


def test_download_missing_file_is_a_clear_error(http_root: tuple[Path, str], tmp_path: Path) -> None:
    _, base = http_root
    with pytest.raises(HarError, match="404"):
        ucf50.download(f"{base}/nothing.rar", tmp_path / "dl")
    assert not list((tmp_path / "dl").iterdir())


def test_download_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HarError, match="could not reach 127.0.0.1"):
        ucf50.download(f"http://127.0.0.1:{port}/UCF50.rar", tmp_path / "dl", timeout=5)
    assert not list((tmp_path / "dl").iterdir())


def test_interrupted_download_leaves_nothing(http_root: tuple[Path, str], tmp_path: Path) -> None:
    served, base = http_root
    (served / "UCF50.rar").write_bytes(b"x" * 300_000)

    class Stop(BaseException):  # what Streamlit raises in a script that is stopped or rerun
        pass

    def stop_midway(done: int, total: int | None) -> None:
        raise Stop

    with pytest.raises(Stop):
        ucf50.download(f"{base}/UCF50.rar", tmp_path / "dl", progress=stop_midway, chunk_size=65536)
    assert not list((tmp_path / "dl").iterdir())


def test_download_rejects_non_http(tmp_path: Path) -> None:
    with pytest.raises(HarError, match="not a valid download address"):
        ucf50.download("file:///etc/passwd", tmp_path)


def test_archive_name_never_a_path() -> None:
    assert ucf50.archive_name("http://h/a/b/UCF50.rar") == "UCF50.rar"
    assert ucf50.archive_name("http://h/a/..%2F..%2Fetc%2Fpasswd") == "passwd"
    assert ucf50.archive_name("http://h/") == "UCF50.rar"


def test_no_rar_tool_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert ucf50.find_rar_tool() is None
    archive = make_rar(tmp_path / "UCF50.rar", {"UCF50/A/v_A_g01_c01.avi": b"x"})
    with pytest.raises(HarError, match="unrar.*7z.*bsdtar"):
        ucf50.extract(archive, tmp_path / "data")
    assert not (tmp_path / "data").exists()


needs_tool = pytest.mark.skipif(ucf50.find_rar_tool() is None, reason="no unrar/7z/bsdtar on PATH")


@needs_tool
def test_download_then_extract_a_real_rar(http_root: tuple[Path, str], tmp_path: Path,
                                          right_video: Path) -> None:
    """The whole in-app path: served RAR → download → extract → a scannable UCF50-layout folder."""
    served, base = http_root
    video = right_video.read_bytes()
    make_rar(served / "UCF50.rar", {
        "UCF50/Right/v_Right_g01_c01.avi": video,
        "UCF50/Right/v_Right_g02_c01.avi": video,
        "UCF50/Left/v_Left_g01_c01.avi": video,
    })
    archive = ucf50.download(f"{base}/UCF50.rar", tmp_path / "dl")
    data = ucf50.extract(archive, tmp_path / "data")
    index = scan(data)
    assert index.classes == ["Left", "Right"]
    assert index.counts()["Right"] == {"clips": 2, "groups": 2}
    assert (data / "Right" / "v_Right_g01_c01.avi").read_bytes() == video
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ucf50-extract-")]


@needs_tool
def test_extract_refuses_to_overwrite_and_reports_bad_archives(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "Old").mkdir(parents=True)
    archive = make_rar(tmp_path / "UCF50.rar", {"UCF50/A/v_A_g01_c01.avi": b"x"})
    with pytest.raises(HarError, match="not empty"):
        ucf50.extract(archive, data)
    assert (data / "Old").is_dir()

    junk = tmp_path / "junk.rar"
    junk.write_bytes(b"this is not an archive at all" * 10)
    with pytest.raises(HarError, match="could not extract junk.rar"):
        ucf50.extract(junk, tmp_path / "data2")
    assert not (tmp_path / "data2").exists()

    no_videos = make_rar(tmp_path / "docs.rar", {"README.txt": b"hello"})
    with pytest.raises(HarError, match="no <Class>/<video> folders"):
        ucf50.extract(no_videos, tmp_path / "data3")
    assert not (tmp_path / "data3").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ucf50-extract-")]
