"""Decoding, the model's frame format, lying containers, bad files and H.264 output."""
import os
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from synth import frames_for, make_video, write_h264

from har_core.errors import HarError
from har_core.media.sampling import ClipSampler
from har_core.media.video import H264Writer, iter_frames, probe, sample_clip, to_model_frame, video_codec


def _lie_about_frame_count(path: Path, claimed: int) -> None:
    """Rewrite an AVI's header frame counts (main header and stream header) to `claimed`."""
    b = bytearray(path.read_bytes())
    avih, strh = b.find(b"avih"), b.find(b"strh")
    struct.pack_into("<I", b, avih + 8 + 16, claimed)
    struct.pack_into("<I", b, strh + 8 + 32, claimed)
    path.write_bytes(bytes(b))


def test_sample_clip_takes_the_rule_frames_in_rgb(tmp_path):
    path = make_video(tmp_path / "v.avi", "Up", n=40)
    clip = sample_clip(path, ClipSampler(20, 64))
    assert clip.frames.shape == (20, 64, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.source_frames == 40 and not clip.short
    decoded = list(iter_frames(path))
    expected = np.stack([to_model_frame(decoded[i]) for i in clip.indices])
    assert np.array_equal(clip.frames, expected)
    # RGB, not BGR: the synthetic "Up" background is blue-ish in BGR (160, 40, 40) -> R channel low
    assert clip.frames[..., 2].mean() > clip.frames[..., 0].mean()


@pytest.mark.parametrize("claimed", [80, 25, 0])
def test_wrong_container_frame_count_is_not_trusted(tmp_path, claimed):
    honest = make_video(tmp_path / "honest.avi", "Right", n=40)
    liar = tmp_path / "liar.avi"
    liar.write_bytes(honest.read_bytes())
    _lie_about_frame_count(liar, claimed)
    cap = cv2.VideoCapture(str(liar))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == claimed  # the lie is really there
    cap.release()
    got, want = sample_clip(liar), sample_clip(honest)
    assert got.source_frames == 40
    assert got.indices.tolist() == want.indices.tolist()
    assert np.array_equal(got.frames, want.frames)
    assert probe(liar).frames == 40 and probe(liar).frames_reported == claimed


def test_short_clip_repeats_frames_and_is_reported(tmp_path):
    clip = sample_clip(make_video(tmp_path / "short.avi", n=7), ClipSampler(20, 64))
    assert clip.short and clip.source_frames == 7
    assert clip.frames.shape[0] == 20
    assert sorted(set(clip.indices.tolist())) == list(range(7))


def test_probe_reports_decoded_metadata(tmp_path):
    info = probe(make_video(tmp_path / "v.avi", n=50, fps=10.0, size=(96, 72)))
    assert (info.frames, info.width, info.height) == (50, 96, 72)
    assert info.fps == pytest.approx(10.0) and info.duration == pytest.approx(5.0)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no such file"),
    (lambda p: (p.write_bytes(b""), p)[1], "empty"),
    (lambda p: (p.write_text("this is not a video\n" * 50), p)[1], "video"),
])
def test_bad_files_raise_one_line_errors(tmp_path, make, message):
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(HarError, match=message) as err:
        sample_clip(path)
    assert "\n" not in str(err.value)


def test_one_frame_video_is_refused(tmp_path):
    with pytest.raises(HarError, match="only 1 frame"):
        sample_clip(make_video(tmp_path / "one.avi", n=1))


def test_h264_writer_output_is_h264_at_source_size_and_fps(tmp_path):
    frames = frames_for("Left", n=30, size=(97, 73))  # odd sizes must still encode
    out = write_h264(tmp_path / "out.mp4", frames, fps=29.97)
    assert video_codec(out) == "h264"
    info = probe(out)
    assert (info.width, info.height, info.frames) == (96, 72, 30)
    assert info.fps == pytest.approx(29.97, abs=0.01)


def test_h264_writer_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError):
        with H264Writer(target, 25, 64, 48) as w:
            w.write(np.zeros((48, 64, 3), np.uint8))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_failure_is_one_line_and_leaves_nothing_behind(tmp_path):
    """x264 runs on the writer's own thread: its failure (here the disk refusing the muxer's writes) reaches the
    caller as one line, at the next write or at close, and the partial file goes."""

    class FullDisk:
        def __init__(self, container):
            self.container = container

        def mux(self, packet):
            raise OSError(28, "No space left on device")

        def close(self):
            self.container.close()

    target = tmp_path / "out.mp4"
    with pytest.raises(HarError, match=r"^could not write out\.mp4: .*No space left on device"):
        with H264Writer(target, 25, 64, 48) as w:
            w._container = FullDisk(w._container)
            for frame in frames_for("Left", n=60, size=(64, 48)):
                w.write(frame)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_left_without_frames_removes_its_file(tmp_path, monkeypatch):
    """A webcam take whose visitor left never closes its writer: its encoder thread ends by itself, with the
    partial file, and a late write says so in one line."""
    import har_core.media.video as video

    monkeypatch.setattr(video, "WRITER_IDLE_S", 0.2)
    w = H264Writer(tmp_path / "take.mp4", 25, 64, 48)
    w.write(np.zeros((48, 64, 3), np.uint8))
    w._encoder.join(timeout=30)
    assert not w._encoder.is_alive() and list(tmp_path.iterdir()) == []
    with pytest.raises(HarError, match="^could not write take.mp4: no frame came for 0 s"):
        w.write(np.zeros((48, 64, 3), np.uint8))
    w.abort()


@pytest.mark.realdata
def test_real_clip_sampling_matches_paper_frames_except_colour(shared_data):
    """Our sequential reader returns the frames the paper's seeking reader returns (RGB instead of BGR)."""
    path = next((shared_data / "HorseRace").glob("*.avi"))
    clip = sample_clip(path)
    cap = cv2.VideoCapture(str(path))
    frames = []
    for i in clip.indices:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, f = cap.read()
        assert ok
        frames.append(to_model_frame(f))
    assert np.array_equal(clip.frames, np.stack(frames))


def test_links_and_truncated_files_say_what_is_wrong(tmp_path):
    from har_core.media.video import H264Writer, local_path, sample_clip

    assert local_path(f"file://{tmp_path}/a%20b.mp4") == f"{tmp_path}/a b.mp4"
    with pytest.raises(HarError, match="is a link, not a file: fetch it first with `python -m har_core download"):
        local_path("https://example.com/v.mp4")
    full, rng = tmp_path / "full.mp4", np.random.default_rng(0)
    with H264Writer(full, 25, 64, 48) as w:
        for _ in range(50):
            w.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    assert full.stat().st_mode & 0o777 == 0o666 & ~_umask()  # the user's usual mode, not mkstemp's 0600
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 12])  # the header and one frame survive
    with pytest.raises(HarError, match="cut.mp4 is damaged or truncated: 1 of its 50 frames could be decoded"):
        sample_clip(cut, ClipSampler(20, 32))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_duration_decodes_when_the_container_claims_no_frame_count(tmp_path, monkeypatch):
    """A browser's WebM has no frame count in its header: its length is then counted, not taken as 0 s (which
    would let any video past a length limit)."""
    import har_core.media.video as video

    path = make_video(tmp_path / "v.avi", n=50, fps=25.0)
    assert video.duration(path) == 2.0
    monkeypatch.setattr(video, "read_header", lambda p: video.Header(frames=0, fps=25.0, width=96, height=72))
    assert video.duration(path) == 2.0
    with pytest.raises(HarError, match="the video is 2 s long; at most 1 s is allowed"):
        video.check_length(path, 1.0)
