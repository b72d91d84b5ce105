"""Group-aware splits never leak a group; k-fold tests each group once."""
from pathlib import Path

import pytest

from har_core.datasets.dataset import Clip
from har_core.datasets.splits import kfold_by_groups, split_by_groups, split_for
from har_core.errors import HarError


def _clips(classes=("A", "B", "C"), groups=12, per=3):
    return [Clip(Path(f"{c}/v_{c}_g{g:02d}_c{i}.avi"), c, f"g{g:02d}")
            for c in classes for g in range(1, groups + 1) for i in range(per)]


def test_no_group_in_two_splits_and_every_class_everywhere():
    clips = _clips()
    s = split_by_groups(clips, seed=3)
    groups = [{c.group for c in part} for part in (s.train, s.val, s.test)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert len(s.train) + len(s.val) + len(s.test) == len(clips)
    for part in (s.train, s.val, s.test):
        assert {c.label for c in part} == {"A", "B", "C"}
    assert set(s.test_groups) == groups[2] and "test groups" in s.protocol


def test_split_is_seeded():
    a, b, c = (split_by_groups(_clips(), seed=s) for s in (1, 1, 2))
    assert a.test_groups == b.test_groups and a.val_groups == b.val_groups
    assert (a.test_groups, a.val_groups) != (c.test_groups, c.val_groups)


def test_explicit_groups_and_errors():
    s = split_by_groups(_clips(), val_groups=["g01"], test_groups=["g02", "g03"])
    assert s.val_groups == ("g01",) and s.test_groups == ("g02", "g03")
    with pytest.raises(HarError, match="two classes"):
        split_by_groups(_clips(classes=("A",)))
    with pytest.raises(HarError, match="none left"):
        split_by_groups(_clips(groups=2))
    with pytest.raises(HarError, match="both"):
        split_by_groups(_clips(), val_groups=["g01"], test_groups=["g01"])


def test_class_missing_from_a_split_is_an_error():
    clips = _clips() + [Clip(Path("D/v_D_g01_c1.avi"), "D", "g01")]
    with pytest.raises(HarError, match="no clip of D"):
        split_by_groups(clips, val_groups=["g02"], test_groups=["g03"])


def test_kfold_tests_each_group_exactly_once_without_leaks():
    folds = kfold_by_groups(_clips(), k=4)
    tested = [g for f in folds for g in f.test_groups]
    assert sorted(tested) == [f"g{g:02d}" for g in range(1, 13)]
    for f in folds:
        train = {c.group for c in f.train}
        assert not train & set(f.test_groups) and not train & set(f.val_groups)
        assert not set(f.val_groups) & set(f.test_groups)
    with pytest.raises(HarError):
        kfold_by_groups(_clips(), k=13)


def test_too_few_groups_hold_out_clips_and_say_so():
    clips = _clips(groups=1, per=6)  # each class from one source video
    with pytest.raises(HarError, match="too few groups"):
        split_by_groups(clips)
    s = split_for(clips, seed=5)
    assert s.fallback.startswith("too few groups") and "clip holdout" in s.protocol and "optimistic" in s.protocol
    names = [{c.path for c in part} for part in (s.train, s.val, s.test)]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    for part in (s.train, s.val, s.test):
        assert {c.label for c in part} == {"A", "B", "C"}
    record = s.record()
    assert record["held_out"] == "clips" and len(record["test_clips"]) == len(s.test) == 3
    assert split_for(_clips(), seed=5).record()["held_out"] == "groups"  # enough groups: a group split


def test_named_groups_never_fall_back_and_tiny_classes_are_refused():
    with pytest.raises(HarError, match="too few groups"):
        split_for(_clips(groups=2), val_groups=["g01"], test_groups=["g02"])
    with pytest.raises(HarError, match="B has 2 clip"):
        split_for(_clips(groups=1, per=3)[:3] + _clips(groups=1, per=2)[2:4])
