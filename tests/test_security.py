"""What a stranger on a hosted demo could try: links to the server's own network, file names that are
paths, model names that leave weights/, and settings that must default to safe when hosted."""
from __future__ import annotations

import functools
import gc
import http.server
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from streamlit.testing.v1 import AppTest
from synth import frames_for, write_h264

from har_core.config import Settings
from har_core.errors import HarError
from har_core.media.download import check_url
from har_core.media.uploads import PREFIX, SessionFolder, sweep_stale
from har_core.models.bundle import check_name
from har_core.models.registry import ModelRegistry

PREDICT = str(Path(__file__).resolve().parents[1] / "pages" / "3_Predict.py")
YOUTUBE = ("youtube.com", "youtu.be", "m.youtube.com", "www.youtube.com")


# ---- links --------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/passwd", "javascript:alert(1)", "data:video/mp4;base64,AAAA",
    "ftp://example.com/v.mp4", "gopher://127.0.0.1:25/", "http://", "//youtube.com/watch?v=x", "",
])
def test_only_http_and_https_links(url: str) -> None:
    with pytest.raises(HarError, match="give an http\\(s\\) URL"):
        check_url(url, YOUTUBE, allow_private=False)


@pytest.mark.parametrize("url", [
    "https://youtube.com.evil.example/watch?v=x",  # allowed name as a prefix of another domain
    "https://evilyoutube.com/watch?v=x",
    "https://youtube.com@127.0.0.1/x.mp4",  # user-info trick: the host is 127.0.0.1
    "https://127.0.0.1/youtube.com/x.mp4",
])
def test_hosted_links_only_from_allowed_hosts(url: str) -> None:
    with pytest.raises(HarError, match="not allowed here"):
        check_url(url, YOUTUBE, allow_private=False)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8501/_stcore/health", "http://127.1/x", "http://2130706433/x",  # decimal 127.0.0.1
    "http://0.0.0.0/x", "http://localhost/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x",
    "http://10.1.2.3/x", "http://172.16.0.1/x", "http://192.168.1.1/x",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata service
])
def test_hosted_never_fetches_loopback_or_private_addresses(url: str) -> None:
    with pytest.raises(HarError, match="private or local addresses"):
        check_url(url, allowed_hosts=None, allow_private=False)
    assert check_url(url, allowed_hosts=None, allow_private=True) == url  # a local install may


def test_allowed_hosts_accept_their_subdomains() -> None:
    for url in ("https://www.youtube.com/watch?v=x", "https://m.youtube.com/watch?v=x", "https://youtu.be/x",
                "HTTPS://WWW.YOUTUBE.COM/watch?v=x"):
        assert check_url(url, YOUTUBE)


class _Recording(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, *args: object) -> None: ...

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def do_HEAD(self) -> None:
        self.requests.append(self.path)
        super().do_HEAD()


@pytest.fixture
def local_http(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A local http.server with one H.264 video, recording every request it gets."""
    served = tmp_path / "served"
    served.mkdir()
    write_h264(served / "up.mp4", frames_for("Up", n=40, seed=3), fps=25)
    seen: list[str] = []
    handler = functools.partial(type("H", (_Recording,), {"requests": seen}), directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/up.mp4", seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def predict_env(tmp_path: Path, synth_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    weights = tmp_path / "weights"
    shutil.copytree(synth_bundle, weights / "synthetic")
    monkeypatch.setenv("HAR_WEIGHTS_DIR", str(weights))
    for name in ("HAR_HOSTED", "HAR_URL_HOSTS", "HAR_ALLOW_TRAINING"):
        monkeypatch.delenv(name, raising=False)
    return weights


def fetch(url: str) -> AppTest:
    at = AppTest.from_file(PREDICT, default_timeout=180).run()
    at.radio(key="predict_source").set_value("Video link").run()
    at.text_input(key="predict_url").set_value(url).run()
    next(b for b in at.button if b.label == "Fetch the video").click().run()
    assert not at.exception, at.exception
    return at


def test_hosted_server_refuses_a_loopback_link_even_when_its_host_is_allowed(
        predict_env: Path, local_http: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = local_http
    monkeypatch.setenv("HAR_HOSTED", "1")
    monkeypatch.setenv("HAR_URL_HOSTS", "127.0.0.1,youtube.com")  # a careless deployer
    at = fetch(url)
    assert [e.value for e in at.error] == ["links to private or local addresses are not allowed: 127.0.0.1"]
    assert seen == []  # nothing was fetched
    assert not any(b.label == "Recognise the action" for b in at.button)


def test_local_server_downloads_from_a_local_http_server(predict_env: Path,
                                                         local_http: tuple[str, list[str]]) -> None:
    url, seen = local_http
    at = fetch(url)
    assert not at.error, [e.value for e in at.error]
    assert "/up.mp4" in seen
    assert any(b.label == "Recognise the action" for b in at.button)


# ---- uploads ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "../../../../tmp/owned.mp4", "/etc/cron.d/x.avi", "..\\..\\windows\\x.mp4", "a/b/c.MOV", "~/.bashrc.mkv",
    "con.webm", "-rf .mp4", "$(reboot).mp4", "ünïcødé naïve.mp4", "x" * 300 + ".mp4",
])
def test_upload_names_are_never_paths(tmp_path: Path, name: str) -> None:
    folder = SessionFolder(root=tmp_path)
    saved = folder.save_upload(b"\x00video bytes", name)
    assert saved.parent == folder.path
    assert saved.name == f"upload-1{Path(name).suffix.lower()}"
    assert saved.read_bytes() == b"\x00video bytes"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [saved.name]


@pytest.mark.parametrize("name, message", [
    ("evil.exe", "not a supported video type"), ("x.mp4.exe", "not a supported video type"),
    ("noextension", "no extension"), ("", "no extension"), (".mp4", "no extension"),
])
def test_upload_types_are_checked(tmp_path: Path, name: str, message: str) -> None:
    folder = SessionFolder(root=tmp_path)
    with pytest.raises(HarError, match=message):
        folder.save_upload(b"data", name)
    assert list(folder.path.iterdir()) == []


def test_upload_limits(tmp_path: Path) -> None:
    folder = SessionFolder(root=tmp_path)
    with pytest.raises(HarError, match="empty"):
        folder.save_upload(b"", "a.mp4")
    with pytest.raises(HarError, match="larger than the 1 MB allowed"):
        folder.save_upload(b"x" * (1024 * 1024 + 1), "a.mp4", max_bytes=1024 * 1024)
    assert list(folder.path.iterdir()) == []


def test_sessions_get_separate_folders_that_are_removed(tmp_path: Path) -> None:
    a, b = SessionFolder(root=tmp_path), SessionFolder(root=tmp_path)
    pa, pb = a.save_upload(b"1", "v.mp4"), b.save_upload(b"2", "v.mp4")
    assert pa.parent != pb.parent and pa.read_bytes() == b"1" and pb.read_bytes() == b"2"
    a.cleanup()
    assert not a.path.exists() and pb.exists()
    path_b = b.path
    del b
    gc.collect()
    assert not path_b.exists()  # a session that ends without cleanup() is removed when collected


def test_stale_session_folders_from_a_crashed_server_are_swept(tmp_path: Path) -> None:
    old, fresh = tmp_path / f"{PREFIX}old", tmp_path / f"{PREFIX}fresh"
    for d in (old, fresh):
        d.mkdir()
        (d / "upload-1.mp4").write_bytes(b"x")
    unrelated = tmp_path / "not-ours"
    unrelated.mkdir()
    stale = time.time() - 7 * 3600
    os.utime(old, (stale, stale))
    os.utime(unrelated, (stale, stale))
    assert sweep_stale(root=tmp_path) == 1
    assert not old.exists() and fresh.exists() and unrelated.exists()


# ---- model names --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "..", ".", "../lrcn", "lrcn/../../etc", "/etc/passwd", "a/b", "a\\b", ".hidden", "-flag", "", " ",
    "x" * 65, "name\x00", "lrcn\n", "~root", "C:evil",
])
def test_model_names_cannot_leave_the_weights_folder(tmp_path: Path, name: str) -> None:
    registry = ModelRegistry(tmp_path / "weights")
    with pytest.raises(HarError):
        check_name(name)
    with pytest.raises(HarError):
        registry.path_for(name)


def test_plain_model_names_stay_inside(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "weights")
    for name in ("lrcn", "ConvLSTM-2026.11_24", "a", "x" * 64, "v1.2"):
        assert registry.path_for(name) == registry.root / name


def test_a_symlink_in_weights_cannot_point_outside(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    weights.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (weights / "escape").symlink_to(outside)
    with pytest.raises(HarError, match="outside the weights folder"):
        ModelRegistry(weights).path_for("escape")


# ---- settings -----------------------------------------------------------------------------------
@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("HAR_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_hosted_defaults_are_safe(clean_env: pytest.MonkeyPatch) -> None:
    local = Settings.from_env()
    assert not local.hosted and local.allow_training
    clean_env.setenv("HAR_HOSTED", "1")
    hosted = Settings.from_env()
    assert hosted.hosted and not hosted.allow_training
    assert hosted.allowed_url_hosts == YOUTUBE
    clean_env.setenv("HAR_ALLOW_TRAINING", "yes")  # a deployer may opt in explicitly
    assert Settings.from_env().allow_training


def test_settings_from_the_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("HAR_DATA_DIR", str(tmp_path / "d"))
    clean_env.setenv("HAR_WEIGHTS_DIR", str(tmp_path / "w"))
    clean_env.setenv("HAR_CACHE_DIR", str(tmp_path / "c"))
    clean_env.setenv("HAR_MAX_UPLOAD_MB", "50")
    clean_env.setenv("HAR_MAX_VIDEO_SECONDS", "not a number")  # falls back to the default
    clean_env.setenv("HAR_URL_HOSTS", " Example.org, ,vimeo.com ")
    clean_env.setenv("HAR_ICE_SERVERS", '[{"urls": "turn:turn.example:3478"}]')
    s = Settings.from_env()
    assert (s.data_dirs, s.weights_dir, s.cache_dir) == ((tmp_path / "d",), tmp_path / "w", tmp_path / "c")
    assert s.max_upload_mb == 50 and s.max_video_seconds == 600
    assert s.allowed_url_hosts == ("example.org", "vimeo.com")
    assert "turn.example" in s.ice_servers_json


def test_hosted_pages_give_visitors_the_viewer_toolbar(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No "Deploy" button or developer menu for the visitors of a hosted demo."""
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    clean_env.setenv("HAR_WEIGHTS_DIR", str(tmp_path))
    try:
        for hosted, mode in (("1", "viewer"), ("0", "auto")):
            clean_env.setenv("HAR_HOSTED", hosted)
            assert not AppTest.from_file(str(Path(PREDICT).parents[1] / "app.py"), default_timeout=60).run().exception
            assert config.get_option("client.toolbarMode") == mode
    finally:
        config.set_option("client.toolbarMode", "auto")
