"""Group-aware splits: train, validation and test never share a UCF50 group.

Group numbers are held out across every class at once (UCF50's own protocol), so each split keeps
every class in proportion. A few-clip folder (a class from one source video, say) has too few groups for
that: `split_for` then holds out clips instead, and its protocol says so. Everything is seeded.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import HarError
from .dataset import Clip


class TooFewGroups(HarError):
    """The data cannot be split by groups; a split by clips still can be (see `split_for`)."""


@dataclass(frozen=True)
class Split:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    val_groups: tuple[str, ...]
    test_groups: tuple[str, ...]
    fallback: str = ""  # why clips, not groups, were held out; empty for a group split

    @property
    def protocol(self) -> str:
        """How the split was made, in words that go with every metric computed on it."""
        if self.fallback:
            return (f"clip holdout ({self.fallback}): {len(self.test)} test and {len(self.val)} validation clips "
                    "drawn per class; clips of one source video may sit on both sides, so this is optimistic")
        test = ",".join(self.test_groups) or "none"
        return f"group holdout: test groups {test}; validation groups {','.join(self.val_groups)}"

    def record(self) -> dict[str, Any]:
        """What model.json keeps of the split: the held-out groups, or the held-out clips' names."""
        if self.fallback:
            return {"held_out": "clips", "reason": self.fallback, "train_groups": _groups(self.train),
                    "val_clips": [c.path.name for c in self.val], "test_clips": [c.path.name for c in self.test]}
        return {"held_out": "groups", "train_groups": _groups(self.train), "val_groups": list(self.val_groups),
                "test_groups": list(self.test_groups)}


def _groups(clips: list[Clip]) -> list[str]:
    return sorted({c.group for c in clips})


def _check_classes(name: str, part: list[Clip], classes: list[str]) -> None:
    missing = sorted(set(classes) - {c.label for c in part})
    if missing:
        raise TooFewGroups(f"the {name} groups hold no clip of {', '.join(missing)}: too few groups for this split")


def split_by_groups(
    clips: list[Clip],
    val_groups: list[str] | None = None,
    test_groups: list[str] | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 27,
) -> Split:
    """Hold out whole groups for validation and test (chosen at random with `seed` unless given)."""
    classes = sorted({c.label for c in clips})
    if len(classes) < 2:
        raise HarError("need at least two classes to train a classifier")
    groups = _groups(clips)
    rng = random.Random(seed)
    free = [g for g in groups if g not in set(val_groups or []) | set(test_groups or [])]
    rng.shuffle(free)
    if test_groups is None:
        n_test = max(1, round(len(groups) * test_fraction)) if test_fraction > 0 else 0
        test_groups, free = free[:n_test], free[n_test:]
    if val_groups is None:
        n_val = max(1, round(len(groups) * val_fraction))
        val_groups, free = free[:n_val], free[n_val:]
    if not free:
        raise TooFewGroups(f"too few groups: only {len(groups)}, none left for training after holding out "
                           "validation and test")
    val_set, test_set = set(val_groups), set(test_groups)
    if val_set & test_set:
        raise HarError("a group cannot be in both validation and test")
    split = Split(
        train=[c for c in clips if c.group not in val_set | test_set],
        val=[c for c in clips if c.group in val_set],
        test=[c for c in clips if c.group in test_set],
        val_groups=tuple(sorted(val_set)),
        test_groups=tuple(sorted(test_set)),
    )
    _check_classes("training", split.train, classes)
    _check_classes("validation", split.val, classes)
    if test_set:
        _check_classes("test", split.test, classes)
    return split


def split_by_clips(clips: list[Clip], reason: str, val_fraction: float = 0.15, test_fraction: float = 0.2,
                   seed: int = 27) -> Split:
    """Hold out clips of every class (at least one for validation and one for test, chosen with `seed`)."""
    rng = random.Random(seed)
    train, val, test = [], [], []
    for label in sorted({c.label for c in clips}):
        own = [c for c in clips if c.label == label]
        if len(own) < 3:
            raise HarError(f"{label} has {len(own)} clip(s): at least 3 are needed (training, validation, test)")
        rng.shuffle(own)
        n_test = max(1, round(len(own) * test_fraction))
        n_val = max(1, round(len(own) * val_fraction))
        test, val, train = test + own[:n_test], val + own[n_test:n_test + n_val], train + own[n_test + n_val:]
    return Split(train, val, test, (), (), fallback=reason)


def split_for(clips: list[Clip], val_groups: list[str] | None = None, test_groups: list[str] | None = None,
              test_fraction: float = 0.2, seed: int = 27) -> Split:
    """A group split when the groups allow one; else, unless groups were named, a clip split that says why."""
    try:
        return split_by_groups(clips, val_groups, test_groups, test_fraction=test_fraction, seed=seed)
    except TooFewGroups:
        if val_groups or test_groups:
            raise
        counts = {label: len({c.group for c in clips if c.label == label}) for label in {c.label for c in clips}}
        fewest = min(sorted(counts), key=counts.get)
        return split_by_clips(clips, f"too few groups for a group split: {fewest} has {counts[fewest]}",
                              test_fraction=test_fraction, seed=seed)


def kfold_by_groups(clips: list[Clip], k: int = 5, val_fraction: float = 0.15, seed: int = 27) -> list[Split]:
    """k folds over groups (leave-groups-out): each group is tested exactly once.

    Inside each fold a share of the remaining groups is held out for validation (early stopping), so
    the test groups are never looked at while training.
    """
    groups = _groups(clips)
    if not 2 <= k <= len(groups):
        raise HarError(f"k must be between 2 and the number of groups ({len(groups)})")
    order = groups[:]
    random.Random(seed).shuffle(order)
    folds = [sorted(order[i::k]) for i in range(k)]
    return [
        split_by_groups(clips, test_groups=fold, val_fraction=val_fraction, seed=seed + i)
        for i, fold in enumerate(folds)
    ]
