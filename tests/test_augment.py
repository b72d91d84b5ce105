"""Training augmentation: each transform does what it says, never touches its input, and training with
temporal jitter reads the finer cache while validation and test read the plain sampler's frames."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import har_core.learning.training as training
from har_core.config import SEQUENCE_LENGTH
from har_core.datasets.augment import AUGMENTS, Augment, augment_named
from har_core.datasets.dataset import load_cached
from har_core.errors import HarError
from har_core.learning.trainconfig import TrainConfig


def numbered_clip(frames: int = 40, size: int = 16) -> np.ndarray:
    """Frame k is filled with the value k, so a picked frame tells which one it was."""
    return np.broadcast_to(np.arange(frames, dtype=np.uint8)[:, None, None, None], (frames, size, size, 3)).copy()


def test_no_augmentation_returns_the_clip_as_it_is() -> None:
    clip = np.random.default_rng(0).integers(0, 256, (20, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(AUGMENTS["none"](clip, np.random.default_rng(1)), clip)


def test_temporal_jitter_picks_one_candidate_per_slot_and_both_get_picked() -> None:
    clip, rng = numbered_clip(40), np.random.default_rng(0)
    picks = np.array([Augment(temporal=2).pick_frames(clip, rng)[:, 0, 0, 0] for _ in range(50)])
    assert picks.shape == (50, 20)
    slot = np.arange(20)
    assert np.all((picks == 2 * slot) | (picks == 2 * slot + 1))
    assert (picks == 2 * slot).any(axis=0).all() and (picks == 2 * slot + 1).any(axis=0).all()


def test_zoom_crops_the_same_box_from_every_frame() -> None:
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    clip = np.stack([frame] * 5)
    out = Augment(zoom=0.5)(clip, rng)
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert all(np.array_equal(f, out[0]) for f in out), "one crop per clip, not per frame"
    assert not np.array_equal(out[0], frame)


def test_colour_changes_the_whole_clip_alike_and_leaves_the_input_alone() -> None:
    clip = np.full((4, 8, 8, 3), 100, dtype=np.uint8)
    before = clip.copy()
    outs = [Augment(color=0.25)(clip, np.random.default_rng(s)) for s in range(5)]
    assert np.array_equal(clip, before)
    assert all(len(np.unique(o)) == 1 for o in outs), "a uniform clip stays uniform"
    assert len({int(o[0, 0, 0, 0]) for o in outs}) > 1
    assert all(abs(int(o[0, 0, 0, 0]) - 100) <= 0.25 * 255 + 1 for o in outs)


def test_flip_mirrors_about_half_the_clips() -> None:
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    flipped = [np.array_equal(Augment(flip=True)(clip, rng), clip[:, :, ::-1]) for _ in range(200)]
    assert 60 < sum(flipped) < 140


def test_unknown_or_out_of_range_augmentation_is_a_user_error() -> None:
    with pytest.raises(HarError, match="unknown augmentation 'heavy'"):
        augment_named("heavy")
    with pytest.raises(HarError, match="out of range"):
        Augment(zoom=0.1)


@pytest.mark.slow
def test_training_with_temporal_jitter_reads_the_finer_cache(synth_data: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, int] = {}
    real_train = training.train

    def spy(arch, classes, train_data, val_data, *args, **kwargs):
        seen["train"] = len(load_cached(train_data[0][0]))
        seen["val"] = len(load_cached(val_data[0][0]))
        return real_train(arch, classes, train_data, val_data, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    job = training.train_and_save(synth_data, TrainConfig("lrcn", epochs=1, patience=1, augment="full"),
                                  tmp_path / "aug", val_groups=["g03"], test_groups=["g04"])
    assert seen == {"train": SEQUENCE_LENGTH * AUGMENTS["full"].temporal, "val": SEQUENCE_LENGTH}
    assert job.meta["training"]["augment"] == {"name": "full", **AUGMENTS["full"].as_dict()}
    assert job.result.model.input_shape[1] == SEQUENCE_LENGTH


def test_unknown_augmentation_fails_before_any_extraction(synth_data: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "extract", lambda *a, **k: pytest.fail("extracted before checking the name"))
    with pytest.raises(HarError, match="unknown augmentation"):
        training.train_and_save(synth_data, TrainConfig("lrcn", epochs=1, augment="heavy"), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_cli_unknown_augmentation_exits_2_with_one_line(synth_data: Path, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "har_core", "train", str(synth_data), "--arch", "lrcn",
                          "--out", str(tmp_path / "x"), "--augment", "heavy"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "invalid choice: 'heavy'" in run.stderr
    assert not (tmp_path / "x").exists()
