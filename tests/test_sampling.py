"""The one sampling rule: evenly spread, repeats when short, windows shaped like training clips."""
import numpy as np
import pytest

from har_core.sampling import span_indices, window_members, window_step


def test_span_indices_are_evenly_spread_mid_slice():
    idx = span_indices(0, 200, 20)
    assert idx.tolist() == [5 + 10 * i for i in range(20)]


def test_span_indices_cover_the_span_and_are_strictly_increasing_when_long_enough():
    for n in (20, 21, 37, 199, 1000):
        idx = span_indices(0, n, 20)
        assert len(idx) == 20 and idx[0] >= 0 and idx[-1] < n
        assert np.all(np.diff(idx) > 0)


def test_short_span_repeats_frames_in_order():
    idx = span_indices(0, 5, 20)
    assert sorted(set(idx.tolist())) == [0, 1, 2, 3, 4]
    assert np.all(np.diff(idx) >= 0)
    assert np.bincount(idx).tolist() == [4, 4, 4, 4, 4]


def test_span_offsets_and_errors():
    assert span_indices(100, 300, 20).tolist() == (span_indices(0, 200, 20) + 100).tolist()
    with pytest.raises(ValueError):
        span_indices(5, 5, 20)


def test_window_step_follows_time_not_frames():
    assert window_step(6.4, 25.0, 20) == 8
    assert window_step(6.4, 50.0, 20) == 16
    assert window_step(0.1, 25.0, 20) == 1


def test_window_members_last_length_frames_or_clip_rule_before():
    assert window_members(30, 20).tolist() == list(range(11, 31))
    early = window_members(4, 20)
    assert early.tolist() == span_indices(0, 5, 20).tolist()
