"""k-fold over groups (har_core.learning.crossval) on the synthetic dataset: folds, leakage, summary, CLI."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import har_core.learning.crossval as cv
from har_core.datasets.dataset import extract, scan
from har_core.errors import HarError
from har_core.learning.trainconfig import TrainConfig

pytestmark = pytest.mark.slow  # trains models or starts TensorFlow in subprocesses


def test_every_group_is_tested_once_and_never_trained_on(synth_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[set[Path], set[Path]]] = []
    real_train = cv.train

    def spy(arch, classes, train_data, val_data, *args, **kwargs):
        seen.append((set(train_data[0]), set(val_data[0])))
        return real_train(arch, classes, train_data, val_data, *args, **kwargs)

    monkeypatch.setattr(cv, "train", spy)
    reported: list[cv.FoldResult] = []
    res = cv.crossval(synth_data, TrainConfig("lrcn", epochs=2, patience=2), k=2, on_fold=reported.append)

    index = scan(synth_data)
    ex = extract(index.clips)
    cache_of = {c.path: p for c, p in zip(ex.clips, ex.paths)}
    assert [f.fold for f in res.folds] == [1, 2] and reported == res.folds
    tested = [g for f in res.folds for g in f.test_groups]
    assert sorted(tested) == sorted({c.group for c in index.clips})
    for fold, (train_paths, val_paths) in zip(res.folds, seen):
        test_paths = {cache_of[c.path] for c in index.clips if c.group in fold.test_groups}
        assert not test_paths & (train_paths | val_paths)
        assert not set(fold.test_groups) & set(fold.val_groups)
        assert fold.n == len(test_paths)
        correct = fold.accuracy * fold.n
        assert correct == pytest.approx(round(correct)) and fold.epochs_run <= 2  # a count of clips, not a guess
    assert sum(f.n for f in res.folds) == len(index.clips)
    # the pooled confusion holds every clip once, and its diagonal is the folds' correct clips together
    cm = np.asarray(res.confusion)
    assert cm.sum() == len(index.clips)
    assert np.trace(cm) == round(sum(f.accuracy * f.n for f in res.folds))
    assert {c: v["support"] for c, v in res.per_class.items()} == {c: n["clips"] for c, n in index.counts().items()}


def test_summary_is_the_mean_and_sample_std_of_the_folds() -> None:
    res = cv.CrossvalResult("lrcn", ["a", "b"], 3)
    for i, acc in enumerate((0.5, 0.75, 1.0)):
        res.folds.append(cv.FoldResult(i + 1, [f"g0{i}"], ["g09"], acc, 10, 0.8, 3, 5, 1.0))
    assert res.mean == pytest.approx(0.75)
    assert res.std == pytest.approx(0.25)
    d = res.as_dict()
    assert d["accuracies"] == [0.5, 0.75, 1.0] and d["k"] == 3 and "3-fold over groups" in d["protocol"]
    assert math.isnan(cv.CrossvalResult("lrcn", ["a", "b"], 2).mean)


def test_too_many_folds_is_a_user_error(synth_data: Path) -> None:
    with pytest.raises(HarError, match="k must be between 2"):
        cv.crossval(synth_data, TrainConfig("lrcn", epochs=1), k=9)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "har_core", *args], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])


def test_cli_crossval_prints_json_last(synth_data: Path) -> None:
    r = _cli("crossval", str(synth_data), "--arch", "lrcn", "-k", "2", "--epochs", "1", "--patience", "1", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["k"] == 2 and len(out["accuracies"]) == 2
    assert out["mean"] == pytest.approx(sum(out["accuracies"]) / 2, abs=1e-3)
    assert "fold 1/2: accuracy" in r.stderr and out["command"].startswith("python -m har_core crossval")


def test_cli_crossval_bad_k_exits_2_with_one_line(synth_data: Path) -> None:
    r = _cli("crossval", str(synth_data), "--arch", "lrcn", "-k", "1")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "k must be between 2" in r.stderr


def test_cli_offers_every_trainable_architecture_and_defaults_to_the_pretrained_one() -> None:
    from har_core.cli import parser
    from har_core.models.architectures import ARCHITECTURES, DEFAULT_ARCH, TRAINABLE

    train = parser()._subparsers._group_actions[0].choices["train"]
    arch = next(a for a in train._actions if a.dest == "arch")
    assert list(arch.choices) == list(TRAINABLE) and arch.default == DEFAULT_ARCH
    assert set(ARCHITECTURES) - set(TRAINABLE) == {"pose_motion"}  # taught from takes, never trained here
    assert ARCHITECTURES[DEFAULT_ARCH].backbone.startswith("efficientnet-lite")


def test_record_in_bundle_adds_crossval_and_refuses_another_arch(synth_bundle: Path, tmp_path: Path) -> None:
    import shutil

    from har_core.models.bundle import read_meta

    bundle = tmp_path / "b"
    shutil.copytree(synth_bundle, bundle)
    meta = read_meta(bundle)
    res = cv.CrossvalResult("lrcn", meta["classes"], 2)
    for i, acc in enumerate((0.5, 1.0)):
        res.folds.append(cv.FoldResult(i + 1, [f"g0{i + 1}"], ["g09"], acc, 4, 1.0, 1, 1, 1.0))
    cv.record_in_bundle(bundle, {**res.as_dict(), "command": "python -m har_core crossval x"})
    got = read_meta(bundle)["metrics"]
    assert got["crossval"]["mean"] == 0.75 and got["crossval"]["k"] == 2 and got["test"] == meta["metrics"]["test"]
    with pytest.raises(HarError, match="not for the bundle"):
        cv.record_in_bundle(bundle, {**res.as_dict(), "arch": "convlstm"})
