"""Link downloads through yt-dlp, tested offline against a local HTTP server."""
import socket

import pytest
from httpserver import LocalServer
from synth import frames_for, write_h264

from har_core.errors import HarError
from har_core.media.download import check_url, download, follow_redirects
from har_core.media.video import probe


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("www")
    write_h264(folder / "clip.mp4", frames_for("Right", n=50), fps=25)
    (folder / "page.html").write_text("<html><body>no video here</body></html>")
    with LocalServer(folder) as server:
        yield server


def test_downloads_a_direct_video_link_and_reuses_it(served, tmp_path):
    seen = []
    path = download(f"{served.url}/clip.mp4", tmp_path, progress=lambda f, s: seen.append(f))
    assert probe(path).frames == 50
    assert download(f"{served.url}/clip.mp4", tmp_path) == path
    assert [p for p in tmp_path.iterdir() if p.suffix in (".part", ".ytdl")] == []


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/a.mp4", "http"),
    ("file:///etc/passwd", "http"),
    ("not a url", "http"),
    ("", "http"),
])
def test_only_http_links(url, message, tmp_path):
    with pytest.raises(HarError, match=message):
        download(url, tmp_path)


def test_missing_video_and_page_without_video(served, tmp_path):
    with pytest.raises(HarError, match="unavailable"):
        download(f"{served.url}/nothing.mp4", tmp_path)
    with pytest.raises(HarError, match="no video"):
        download(f"{served.url}/page.html", tmp_path)


def test_unreachable_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HarError, match="reach|network"):
        download(f"http://127.0.0.1:{port}/a.mp4", tmp_path)


def test_too_long_video_is_refused_and_removed(served, tmp_path):
    with pytest.raises(HarError, match="at most 1 s"):
        download(f"{served.url}/clip.mp4", tmp_path, max_seconds=1)
    assert list(tmp_path.iterdir()) == []


def test_too_large_file_is_refused(served, tmp_path):
    with pytest.raises(HarError, match="larger"):
        download(f"{served.url}/clip.mp4", tmp_path, max_bytes=100)
    assert [p for p in tmp_path.iterdir() if not p.name.endswith(".part")] == []


def test_host_allow_list_and_private_addresses():
    assert check_url("https://www.youtube.com/watch?v=x", ("youtube.com",))
    assert check_url("https://youtu.be/x", ("youtube.com", "youtu.be"))
    with pytest.raises(HarError, match="not allowed"):
        check_url("https://evil.example/youtube.com", ("youtube.com",))
    with pytest.raises(HarError, match="not allowed"):
        check_url("https://notyoutube.com/x", ("youtube.com",))
    for url in ("http://127.0.0.1/x.mp4", "http://localhost:8501/x", "http://10.0.0.1/x", "http://[::1]/x"):
        with pytest.raises(HarError, match="private or local"):
            check_url(url, allow_private=False)


def test_every_redirect_hop_is_checked_like_the_link(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    write_h264(folder / "clip.mp4", frames_for("Right", n=30), fps=25)
    hops = {"/same-site": "http://localhost:{port}/clip.mp4", "/elsewhere": "{url}/clip.mp4",
            "/loop": "http://localhost:{port}/loop"}
    with LocalServer(folder, redirects=hops) as server:
        port = server.url.rsplit(":", 1)[1]
        site = (f"http://localhost:{port}", ("localhost",))
        assert probe(download(f"{site[0]}/same-site", tmp_path / "a", allowed_hosts=site[1])).frames == 30
        with pytest.raises(HarError, match="links from 127.0.0.1 are not allowed here"):  # to a host not allowed
            download(f"{site[0]}/elsewhere", tmp_path / "b", allowed_hosts=site[1])
        with pytest.raises(HarError, match="redirects more than 5 times"):
            download(f"{site[0]}/loop", tmp_path / "c", allowed_hosts=site[1])
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []


def test_a_redirect_to_a_private_address_is_refused_before_it_is_requested():
    requested = []

    def hop(url):  # a public address whose link answers "302 -> the cloud metadata address"
        requested.append(url)
        return 302, "http://169.254.169.254/latest/meta-data/"

    public = "http://93.184.216.34/video.mp4"  # an IP literal: checked without DNS (none here)
    with pytest.raises(HarError, match="private or local addresses are not allowed: 169.254.169.254"):
        follow_redirects(public, allow_private=False, hop=hop)
    assert requested == [public]
