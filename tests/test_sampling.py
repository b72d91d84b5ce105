"""The one sampler: a clip's frames, sliding and live windows timed in seconds, smoothing, model.json."""
import numpy as np
import pytest

from har_core.media.sampling import ClipSampler, span_indices


def test_span_indices_are_evenly_spread_mid_slice():
    idx = span_indices(0, 200, 20)
    assert idx.tolist() == list(range(5, 200, 10))


def test_span_indices_cover_the_span_and_are_strictly_increasing_when_long_enough():
    for n in (20, 21, 37, 100, 1001):
        idx = span_indices(0, n, 20)
        assert idx[0] >= 0 and idx[-1] < n
        assert (np.diff(idx) > 0).all()


def test_short_span_repeats_frames_in_order():
    idx = span_indices(0, 5, 20)
    assert idx.min() == 0 and idx.max() == 4 and (np.diff(idx) >= 0).all()
    assert sorted(set(idx.tolist())) == [0, 1, 2, 3, 4]


def test_offset_span_and_bad_input():
    assert span_indices(100, 300, 20).tolist() == (span_indices(0, 200, 20) + 100).tolist()
    with pytest.raises(ValueError):
        span_indices(5, 5, 20)


def test_a_clip_is_the_span_rule_over_the_whole_video():
    assert ClipSampler(frames=16).clip_indices(160).tolist() == span_indices(0, 160, 16).tolist()


def test_window_step_follows_time_not_frames():
    s = ClipSampler(frames=20, window_seconds=6.4)
    assert s.frame_interval == pytest.approx(0.32)
    assert s.window_step(25.0) == 8 and s.window_step(50.0) == 16
    assert ClipSampler(frames=20, window_seconds=0.1).window_step(25.0) == 1


def test_window_members_last_frames_or_clip_rule_before():
    s = ClipSampler(frames=20)
    assert s.window_members(30).tolist() == list(range(11, 31))
    assert s.window_members(4).tolist() == span_indices(0, 5, 20).tolist()


def test_smoothing_averages_the_last_windows():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert ClipSampler(smooth=2).smoothed(probs).tolist() == [[1, 0], [0.5, 0.5], [0, 1], [0.5, 0.5]]
    assert ClipSampler(smooth=1).smoothed(probs).tolist() == probs.tolist()


def test_recorded_whole_in_model_json_and_read_back():
    s = ClipSampler(frames=16, image_size=224, window_seconds=4.0, smooth=5)
    meta = s.as_meta()
    assert meta["sequence_length"] == 16 and meta["color_order"] == "RGB" and meta["smooth"] == 5
    assert ClipSampler.from_meta(meta) == s
    old = {k: v for k, v in meta.items() if k not in ("window_seconds", "smooth")}  # a bundle from before
    assert ClipSampler.from_meta(old) == ClipSampler(16, 224)
    tutorial = ClipSampler(20, 64, spread="stride", resize="linear")
    assert ClipSampler.from_meta(tutorial.as_meta()) == tutorial
    assert tutorial.as_meta()["resize"] == "cv2.INTER_LINEAR"
    with pytest.raises(ValueError, match="unknown frame rule"):
        ClipSampler.from_meta({**meta, "rule": "every other frame"})


def test_the_tutorials_whole_clip_rule():
    """frames_extraction: window = max(count // 20, 1), frame i * window; a clip shorter than 20 frames repeats its
    last frame (the tutorial itself would drop it)."""
    s = ClipSampler(20, 64, spread="stride")
    assert s.clip_indices(199).tolist() == [9 * i for i in range(20)]
    assert s.clip_indices(40).tolist() == list(range(0, 40, 2))
    assert s.clip_indices(12).tolist() == list(range(12)) + [11] * 8
    with pytest.raises(ValueError):
        ClipSampler(20, 64, spread="random")
