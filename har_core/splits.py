"""Group-aware splits: train, validation and test never share a UCF50 group.

Group numbers are held out across every class at once (UCF50's own protocol), so each split keeps
every class in proportion. Everything is seeded.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .dataset import Clip
from .errors import HarError


@dataclass(frozen=True)
class Split:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    val_groups: tuple[str, ...]
    test_groups: tuple[str, ...]

    @property
    def protocol(self) -> str:
        """How the split was made, in words that go with every metric computed on it."""
        test = ",".join(self.test_groups) or "none"
        return f"group holdout: test groups {test}; validation groups {','.join(self.val_groups)}"


def _groups(clips: list[Clip]) -> list[str]:
    return sorted({c.group for c in clips})


def _check_classes(name: str, part: list[Clip], classes: list[str]) -> None:
    missing = sorted(set(classes) - {c.label for c in part})
    if missing:
        raise HarError(f"the {name} groups hold no clip of {', '.join(missing)}: too few groups for this split")


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
        raise HarError(f"only {len(groups)} groups: none left for training after holding out validation and test")
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
