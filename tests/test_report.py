"""Metric wording: never a number without its protocol, k-fold with its spread, the headline that menus show."""
import json

from har_core.config import PROJECT_DIR
from har_core.models.report import (clip_basis, format_metric, headline_metric, headline_short, moment_basis, percent,
                                    recall_line, video_basis, weak_classes)


def test_every_metric_names_its_protocol_and_what_was_held_out():
    test = {"accuracy": 0.8, "n": 40, "protocol": "group holdout: test groups g04", "held_out_groups": ["g04"]}
    assert format_metric("test", test) == "80.0% test accuracy on 40 clips — group holdout: test groups g04"
    val = {"accuracy": 0.5, "n": 4, "protocol": "validation groups", "held_out_groups": ["g03"]}
    assert format_metric("validation", val).endswith("validation groups (held out: g03)")
    assert format_metric("test", {"accuracy": 1.0}).endswith("protocol not recorded")


def test_k_fold_shows_its_spread_and_the_headline_prefers_test():
    cv = {"mean": 0.95, "std": 0.018, "k": 5, "protocol": "5-fold over groups"}
    assert format_metric("crossval", cv) == "95.0% ± 1.8 crossval accuracy over 5 folds — 5-fold over groups"
    meta = {"metrics": {"crossval": cv, "test": {"accuracy": 0.916, "n": 119, "protocol": "p"}}}
    assert headline_metric(meta).startswith("91.6% test accuracy on 119 clips")
    assert headline_short({"metrics": {"crossval": cv}}) == "95.0% ± 1.8 k-fold"
    assert headline_metric({"metrics": {}}) is None and percent(None) == "n/a"


def test_recall_per_class_is_ranked():
    meta = {"metrics": {"crossval": {"mean": 0.9, "k": 5, "per_class": {"A": {"recall": 0.5}, "B": {"recall": 1.0}}}}}
    assert recall_line(meta) == "Recall per class, 5-fold over groups: B 100%, A 50%"


def test_weak_classes_of_the_shipped_default_come_from_its_k_fold():
    """The notes Home puts under example clips, from weights/imagenet_segments_lite2/model.json (README: Shipped
    models): every class under 90% recall, with the class its misses mostly went to."""
    meta = json.loads((PROJECT_DIR / "weights" / "imagenet_segments_lite2" / "model.json").read_text())
    assert weak_classes(meta) == {
        "CricketBowling": "52% recall in k-fold, mostly taken for CricketShot (9 of 11 misses)",
        "CricketShot": "78% recall in k-fold, mostly taken for CricketBowling (5 of 5 misses)",
        "PlayingCello": "87% recall in k-fold, mostly taken for PlayingViolin (3 of 3 misses)"}
    assert weak_classes({"metrics": {"test": {"accuracy": 0.5}}}) == {}


def test_each_confidence_names_what_it_averages():
    """One video, three figures (classify, the mean of windows, each moment's): no two read alike."""
    assert clip_basis(20) == "one clip of 20 frames spread over the whole video"
    assert video_basis(19, 6.4) == "the mean of 19 sliding windows of 6.4 s"
    assert video_basis(1, 6.4) == "the mean of 1 sliding window of 6.4 s"
    assert video_basis(0, 6.4) == "one window over the whole video (shorter than the model's 6.4 s)"
    assert moment_basis(3) == "the mean of the last 3 windows"
