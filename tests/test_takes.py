"""Webcam takes: a countdown that is not recorded, then the asked seconds as a browser-playable H.264 file; a
take that never starts is reported, and bad requests are refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from har_core.errors import HarError
from har_core.media import takes
from har_core.media.takes import Take, TakeRecorder
from har_core.media.video import probe, video_codec


def frames(n: int, start: int = 0) -> list[np.ndarray]:
    return [np.full((120, 160, 3), 100 + i % 50, dtype=np.uint8) for i in range(start, start + n)]


def test_countdown_then_the_take_is_written_and_reported(tmp_path: Path) -> None:
    rec = TakeRecorder()
    rec.arm("wave", tmp_path / "take.mp4", seconds=3.0, countdown=1.0)
    assert rec.busy
    shown = [rec.process(f, i / 20) for i, f in enumerate(frames(20 + 60 + 5))]  # 20 fps: 1 s, 3 s, then more
    assert not rec.busy
    take = rec.finished.get_nowait()
    assert isinstance(take, Take) and take.tag == "wave" and take.path == tmp_path / "take.mp4"
    info = probe(take.path)
    assert video_codec(take.path) == "h264" and info.fps == 20 and 60 <= info.frames <= 61
    assert np.median(shown[0]) < 100 and shown[0].max() == 255  # the countdown: picture dimmed, a white digit
    assert not np.array_equal(shown[30], frames(1, 30)[0])  # REC is drawn on what the user sees
    assert np.array_equal(shown[-1], frames(1, 84)[0])  # after the take: frames pass untouched
    assert [p.name for p in tmp_path.iterdir()] == ["take.mp4"]  # nothing half-written beside it


def test_a_take_that_never_starts_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = TakeRecorder()
    monkeypatch.setattr(takes, "START_TIMEOUT_S", 0.0)
    rec.arm(1, tmp_path / "t.mp4", seconds=3.0)
    rec.check_started()
    message = rec.finished.get_nowait()
    assert isinstance(message, str) and "did not start" in message and "press START" in message.replace("Press", "press")
    assert not rec.busy and not list(tmp_path.iterdir())


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    rec = TakeRecorder()
    with pytest.raises(HarError, match="3 to 10 s"):
        rec.arm(1, tmp_path / "t.mp4", seconds=30.0)
    rec.arm(1, tmp_path / "t.mp4", seconds=3.0)
    with pytest.raises(HarError, match="being recorded"):
        rec.arm(2, tmp_path / "u.mp4", seconds=3.0)
    rec.process(frames(1)[0], 0.0)
    rec.process(frames(1)[0], 3.5)  # recording has begun
    rec.cancel()
    assert not rec.busy and not list(tmp_path.iterdir())  # a cancelled take leaves nothing
