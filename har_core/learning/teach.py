"""Teach new activities from a handful of example clips, in seconds, with an honest accuracy.

Each example is read once (cached); a linear head fits in a fraction of a second, so every example can be
scored by a head taught without it: leave one source group out when each activity has examples from two or
more groups (`gNN` in the name, a person, a video), else leave one clip out. Those held-out scores give the
accuracy, the confusion matrix and the 'no known activity' threshold; the saved model is then taught from every
example. Nothing here imports TensorFlow.

Two kinds of activity need two heads (architectures.py): "scene" activities differ by what is in view (a
piano, horses), read by the frozen ImageNet encoder; "motion" ones by how a body moves (gestures at a webcam),
read from the body's keypoints (BlazePose), so that the room, the clothes and the person do not count. Besides
the taught activities, the head learns an 'other' output from the shipped example clips of other activities
and, for motion, from still takes (nothing moving is no activity).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import settings
from ..datasets.dataset import Clip, extract, group_of
from ..errors import HarError
from ..media.examples import examples as shipped_examples
from ..media.sampling import ClipSampler
from ..media.video import duration
from ..models import bundle as bundle_mod
from ..models.architectures import Architecture, architecture
from ..models.encoders import ensure, frame_encoder
from ..pose import motion
from ..pose.blazepose import read_manifest
from .evaluation import score_probs
from .features import cached_features, cached_keypoints
from .linear import AUGMENT_COPIES, balanced_weights, fit_linear, fit_pose, pose_variants
from .openset import KNOWN_ACCEPT, known_score, threshold_for

KINDS = {"scene": "imagenet_segments_lite2", "motion": "pose_motion"}
KIND_TITLES = {"scene": "What is in view (objects, places, sports)",
               "motion": "How the body moves (gestures in front of a camera; body pose)"}
# What model.json says of the frozen backbone (pretrained.backbone_record), read from the stored encoder's manifest
BACKBONE_KEYS = ("name", "image_size", "weights", "preprocessing", "feature_dim", "fingerprint", "trainable")
POSE_THRESHOLD = 0.5  # at most: the best gesture more likely than everything else together
MIN_EXAMPLES = 2  # per activity: one to teach with while the other is held out
MAX_NAME = 40

Progress = Callable[[float, str], None]  # (share done 0..1, what is happening)


@dataclass(frozen=True)
class Limits:
    """What one teaching run may use; a hosted server sets these per visitor (README, "Settings")."""

    max_activities: int
    max_examples: int
    max_clip_seconds: float

    @classmethod
    def from_settings(cls) -> "Limits":
        s = settings()
        return cls(s.teach_max_activities, s.teach_max_examples, s.teach_max_clip_seconds)


@dataclass
class TeachResult:
    bundle_dir: Path
    meta: dict[str, Any]
    examples: list[dict[str, Any]]  # per example: file, activity, held-out prediction and its score


def check_examples(examples: dict[str, list[Path]], limits: Limits | None = None) -> list[Clip]:
    """The examples as clips of their activity, or the first thing wrong with them as one line."""
    limits = limits or Limits.from_settings()
    seen: dict[str, str] = {}
    for name in examples:
        clean = name.strip()
        if not clean:
            raise HarError("an activity has no name")
        if len(clean) > MAX_NAME or not clean.isprintable():
            raise HarError(f"activity name {clean[:MAX_NAME]!r}…: use at most {MAX_NAME} printable characters")
        if clean.casefold() in seen:
            raise HarError(f"two activities are named {clean!r}: give each its own name")
        seen[clean.casefold()] = clean
    if len(examples) < 2:
        raise HarError("name at least two activities: a model tells activities apart")
    if len(examples) > limits.max_activities:
        raise HarError(f"{len(examples)} activities: this server teaches at most {limits.max_activities}")
    total = sum(len(v) for v in examples.values())
    if total > limits.max_examples:
        raise HarError(f"{total} examples: this server takes at most {limits.max_examples} per model")
    clips = []
    for name, paths in examples.items():
        if len(paths) < MIN_EXAMPLES:
            raise HarError(f"{name.strip()} has {len(paths)} example(s): give it at least {MIN_EXAMPLES}")
        for path in paths:
            seconds = duration(path)  # a HarError names an unreadable file
            if seconds > limits.max_clip_seconds:
                raise HarError(f"{Path(path).name} is {seconds:.0f} s long: examples may be at most "
                               f"{limits.max_clip_seconds:.0f} s (cut it to the activity)")
            clips.append(Clip(Path(path), name.strip(), group_of(Path(path))))
    return clips


def other_examples(activities: list[str]) -> list[Clip]:
    """The shipped example clips of activities not being taught: what 'other' learns from."""
    taught = {a.casefold() for a in activities}
    return [Clip(e.path, e.label, group_of(e.path)) for e in shipped_examples() if e.label.casefold() not in taught]


def protocol_for(clips: list[Clip]) -> tuple[str, np.ndarray]:
    """How examples are held out ('group' or 'clip') and each example's fold number."""
    groups_per_class: dict[str, set[str]] = {}
    for c in clips:
        groups_per_class.setdefault(c.label, set()).add(c.group)
    if min(len(g) for g in groups_per_class.values()) >= 2:
        names = sorted({c.group for c in clips})
        return "group", np.asarray([names.index(c.group) for c in clips])
    return "clip", np.arange(len(clips))


def protocol_text(unit: str, n_folds: int) -> str:
    if unit == "group":
        return (f"leave one source group out ({n_folds} groups): each example scored by a model taught without "
                "any example of its group")
    return ("leave one clip out: each example scored by a model taught without it (several examples of one "
            "source video make this optimistic)")


def clip_sampler(kind: str, window_seconds: float | None = None) -> ClipSampler:
    """How a kind's examples are sampled (and their keypoints or features cached): the motion kind keeps each
    frame's shape, long side at most its size, with a live window of `window_seconds`; the scene kind samples
    square frames like every dataset clip."""
    rec = architecture(KINDS[kind])
    if rec.head != "pose":
        return ClipSampler(rec.frames, rec.image_size)
    window = {} if window_seconds is None else {"window_seconds": round(window_seconds, 1)}
    return ClipSampler(rec.frames, rec.image_size, resize="fit", **window)


def _scene_inputs(rec: Architecture, videos: list[Clip], cache_dir: str | Path | None,
                  emit: Progress) -> np.ndarray:
    """Frozen ImageNet features (n, frames, 1280) of every clip, through the uint8 clip cache."""
    ex = extract(videos, cache_dir, size=rec.image_size,
                 progress=lambda d, t: emit(0.3 * d / t, f"reading clips ({d}/{t})"))
    if ex.failed:
        clip, message = ex.failed[0]
        raise HarError(f"{clip.path.name} cannot be used: {message}")
    emit(0.3, "loading the ImageNet encoder")
    return cached_features(ex.paths, frame_encoder(rec.backbone, rec.image_size), rec.backbone,
                           lambda d, t: emit(0.3 + 0.55 * d / t, f"encoding frames ({d}/{t} clips)"))


def _pose_inputs(sampler: ClipSampler, videos: list[Clip], taught: int, cache_dir: str | Path | None,
                 emit: Progress) -> np.ndarray:
    """Body keypoints (n, frames, FRAME_DIM) of every clip; an example (one of the first `taught`) in which nobody
    is found is refused by name."""
    keypoints = cached_keypoints([c.path for c in videos], sampler, cache_dir,
                                 lambda d, t: emit(0.85 * d / t, f"finding the body in every clip ({d}/{t})"))
    for clip, points in zip(videos[:taught], keypoints):
        if motion.summary(points).nobody:
            raise HarError(f"{clip.path.name}: no person was found in most of its frames; the body-pose head "
                           "needs the whole upper body in view")
    return keypoints


def teach(
    examples: dict[str, list[Path]],
    out_dir: str | Path,
    kind: str = "scene",
    others: list[Clip] | None = None,
    limits: Limits | None = None,
    cache_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    command: str = "",
) -> TeachResult:
    """Check, encode, cross-validate and save a model of the activities in `examples` (name -> clip files).

    `others` are clips of none of the activities (default: the shipped examples of other activities).
    Nothing is written unless everything succeeds (bundle.save_bundle writes atomically).
    """
    emit = progress or (lambda share, message: None)
    start = time.perf_counter()
    if kind not in KINDS:
        raise HarError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise HarError(f"a model named {out_dir.name!r} already exists; choose another name")
    clips = check_examples(examples, limits)
    classes = list(dict.fromkeys(c.label for c in clips))
    others = other_examples(classes) if others is None else others
    rec = architecture(KINDS[kind])
    pose, size = rec.head == "pose", rec.image_size
    # a pose model's live window spans a typical example (gestures last seconds); the scene one a UCF clip
    window = float(np.clip(np.median([duration(c.path) for c in clips]), 1.0, 10.0)) if pose else None
    sampler = clip_sampler(kind, window)

    emit(0.0, f"reading {len(clips)} examples")
    feats = (_pose_inputs(sampler, clips + others, len(clips), cache_dir, emit) if pose
             else _scene_inputs(rec, clips + others, cache_dir, emit))
    n_known, k = len(clips), len(classes)
    x, x_other = feats[:n_known], feats[n_known:]
    y = np.asarray([classes.index(c.label) for c in clips])
    stills = pose or rec.centered  # heads that read motion also learn that a still take is no activity
    x_still = np.repeat(x[:, rec.frames // 2:rec.frames // 2 + 1], rec.frames, axis=1)  # the middle frame held
    # what a head learns from: frame features as they are, or (pose) each clip's motion and its variants, once
    inputs = [pose_variants(part) for part in (x, x_other, x_still)] if pose else [x, x_other, x_still]

    def fit(rows: np.ndarray):
        """A head taught from the examples `rows`, the other clips and (motion) their still takes."""
        mine, other, still = inputs
        xs = np.concatenate([mine[rows], other] + ([still[rows]] if stills else []))
        ys = np.r_[y[rows], np.full(len(xs) - len(rows), k)]
        if pose:
            return fit_pose(xs, ys, k + 1, float(rec.c), balanced_weights(ys, k))
        return fit_linear(xs, ys, k + 1, float(rec.c), balanced_weights(ys, k), rec.segments, rec.centered)

    emit(0.85, "scoring each example with a model taught without it")
    unit, folds = protocol_for(clips)
    held_out = np.zeros((n_known, k + 1), dtype="float32")
    for f in np.unique(folds):
        test = folds == f
        held_out[test] = fit(np.flatnonzero(~test)).probs(x[test])
    evaluation = score_probs(held_out, list(y), classes)
    scores = known_score(held_out, k)
    # A body-pose model is taught to be used by other people, whose takes score lower than the held-out takes of
    # the people who taught it: its threshold never asks for more than POSE_THRESHOLD (benchmarks/teach.json)
    threshold = min(threshold_for(scores), POSE_THRESHOLD) if pose else threshold_for(scores)
    protocol = protocol_text(unit, len(np.unique(folds)))

    emit(0.92, "teaching the model from every example")
    head = fit(np.arange(n_known))
    per_example = [{"file": c.path.name, "activity": c.label, "group": c.group,
                    "predicted": classes[int(p[:k].argmax())] if s >= threshold else "no known activity",
                    "score": round(float(s), 3)} for c, p, s in zip(clips, held_out, scores)]
    seconds = time.perf_counter() - start
    meta: dict[str, Any] = {
        "classes": classes,
        "architecture": rec.name,
        "parameters": head.parameters,
        "sampler": sampler.as_meta(),
        "training": {"architecture": rec.name, "taught": kind, "head": rec.head, "c": rec.c,
                     "class_weight": "balanced", "image_size": size, "outlier_clips": len(others),
                     "still_takes": n_known if stills else 0, "epochs_run": 1,
                     "seconds": round(seconds, 1), "command": command,
                     **({"augmented_copies": AUGMENT_COPIES} if pose else
                        {"segments": rec.segments, "centered": rec.centered})},
        "split": {"held_out": unit + "s, in turn", "folds": int(len(np.unique(folds)))},
        "metrics": {"teach": {"accuracy": evaluation.accuracy, "n": evaluation.n, "protocol": protocol,
                              "per_class": evaluation.per_class, "confusion": evaluation.confusion}},
        "data": {"examples": {a: [c.path.name for c in clips if c.label == a] for a in classes},
                 "clips": n_known, "per_class": {a: int((y == i).sum()) for i, a in enumerate(classes)},
                 "examples_held_out": per_example},
        "open_set": {"score": "probability of the best known class (the 'other' output is the last one)",
                     "other_output": True, "threshold": threshold,
                     "protocol": f"threshold: {KNOWN_ACCEPT:.0%} of the examples accepted ({protocol})"
                                 + (f", at most {POSE_THRESHOLD:g} (a body-pose model: other people's takes score "
                                    "lower than its teachers')" if pose else ""),
                     "outlier_classes": sorted({c.label for c in others}), "outlier_clips": len(others)},
    }
    if pose:
        manifest = read_manifest()
        meta["pose"] = {"models": {part: manifest[part]["sha256"] for part in ("detector", "landmarks")},
                        "source": manifest["source_wheel"], "licence": manifest["licence"],
                        "features": "elbows and wrists relative to the shoulders, in shoulder widths, over the "
                                    "span that moves (pose.motion)"}
    else:
        shared = ensure(rec.backbone, size)
        meta["parameters"] += int(shared["parameters"])
        meta["backbone"] = {key: shared[key] for key in BACKBONE_KEYS}
    saved = bundle_mod.save_bundle(None, meta, out_dir, overwrite=overwrite, head=head)
    emit(1.0, f"saved {saved.name}")
    return TeachResult(saved, bundle_mod.read_meta(saved), per_example)
