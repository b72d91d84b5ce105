"""Body pose against its targets: the webcam's frame path with a gesture model, and a pose stream beside the
default model's scene features.

`python -m benchmarks.pose [--skip-kfold] [--json FILE]` prints one line per row:
1. webcam: a gesture model taught from person g01's takes (`teach --kind motion`), person g04's wave played at
   15 fps in real time through the webcam's frame path (`LiveAnnotator.process`, skeleton drawn): the callback's
   p50/p95, how long after the first frame the first label comes, prediction latency, and how often the wave is
   named while it loops;
2. the default model's eleven classes, 5 folds over groups (crossval's folds): the scene features alone (segment
   means of frozen Lite2 features, the shipped recipe) against scene plus the pose stream (pose.motion's
   features of each clip, standardised), the same logistic regression, mean accuracy and the cricket pair's
   recall. The default model ships with the pose stream only if the k-fold improves.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
GESTURES = ("Clap", "SwipeLeft", "SwipeRight", "Throw", "Wave")


def bench_webcam(work: Path, seconds: float = 10.0, fps: float = 15.0) -> dict[str, Any]:
    from har_core.datasets.dataset import scan
    from har_core.learning.teach import teach
    from har_core.media.video import iter_frames
    from har_core.models.bundle import load_bundle
    from har_core.prediction.live import LiveAnnotator

    index = scan(DATA / "gestures")
    taught = {g: [c.path for c in index.clips if c.label == g and c.group == "g01"] for g in GESTURES}
    taught_dir = teach(taught, work / "g01", kind="motion", cache_dir=work / "cache", overwrite=True).bundle_dir
    bundle = load_bundle(taught_dir)
    take = list(iter_frames(DATA / "gestures" / "Wave" / "v_Wave_g04_c01.mp4"))
    live = LiveAnnotator()
    live.skeleton = True
    live.use(bundle)  # loads and warms up the pose models, as pressing START does
    callback_ms, labels, first = [], [], None
    start = time.perf_counter()
    for i in range(int(seconds * fps)):
        time.sleep(max(0.0, start + i / fps - time.perf_counter()))
        t0 = time.perf_counter()
        live.process(take[i % len(take)].copy(), i / fps)
        callback_ms.append(1000 * (time.perf_counter() - t0))
        stats = live.stats()
        if stats.prediction is not None:
            first = first if first is not None else time.perf_counter() - start
            labels.append(stats.prediction.shown)
    stats = live.stats()
    live.stop()
    return {"model": "taught from g01's 20 takes (5 gestures)", "stream": "g04's wave, looped", "fps": fps,
            "frames": len(callback_ms), "callback_p50_ms": round(float(np.percentile(callback_ms, 50)), 2),
            "callback_p95_ms": round(float(np.percentile(callback_ms, 95)), 2),
            "first_label_s": None if first is None else round(first, 2), "predictions": stats.predictions,
            "last_latency_ms": round(stats.latency_ms, 1),
            "wave_shown": round(labels.count("Wave") / max(1, len(labels)), 2),
            "labels_seen": sorted(set(labels))}


def bench_kfold(work: Path) -> dict[str, Any]:
    """Scene features alone against scene + pose, the shipped default's recipe, on crossval's folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    from har_core.datasets.dataset import extract, scan
    from har_core.datasets.splits import kfold_by_groups
    from har_core.learning.features import cached_features, cached_keypoints
    from har_core.learning.linear import balanced_weights
    from har_core.media.sampling import ClipSampler
    from har_core.models.architectures import architecture
    from har_core.models.encoders import frame_encoder
    from har_core.models.heads import segment_means
    from har_core.pose import motion

    meta = json.loads((ROOT / "weights" / "imagenet_segments_lite2" / "model.json").read_text())
    classes = meta["classes"]
    index = scan([DATA / "ucf50", DATA / "ucf101_extra"]).select(classes)
    rec = architecture(meta["architecture"])
    cache = work / "cache"
    ex = extract(index.clips, cache, size=rec.image_size)
    scene = segment_means(cached_features(ex.paths, frame_encoder(rec.backbone, rec.image_size), rec.backbone),
                          rec.segments)
    pose_sampler = ClipSampler(32, 640, resize="fit")
    keypoints = cached_keypoints([c.path for c in ex.clips], pose_sampler, cache)
    people = np.array([not motion.summary(k).nobody for k in keypoints])
    pose = motion.features(keypoints)
    y = np.array([classes.index(c.label) for c in ex.clips])
    where = {c.path: i for i, c in enumerate(ex.clips)}
    folds = kfold_by_groups(ex.clips, k=5)
    out: dict[str, Any] = {"clips": len(y), "with_a_person": float(people.mean()),
                           "with_a_person_by_class": {c: float(people[y == i].mean()) for i, c in enumerate(classes)}}
    pair = [classes.index("CricketBowling"), classes.index("CricketShot")]
    for name, use_pose in (("scene", False), ("scene+pose", True)):
        right = np.zeros(len(y), bool)
        accuracies = []
        for split in folds:
            train = np.array([where[c.path] for c in split.train + split.val])
            test = np.array([where[c.path] for c in split.test])
            x = scene
            if use_pose:
                scaler = StandardScaler().fit(pose[train])
                x = np.hstack([scene, scaler.transform(pose) * np.abs(scene[train]).mean()])
            with threadpool_limits(1, "blas"):
                lr = LogisticRegression(C=float(rec.c), max_iter=5000).fit(
                    x[train], y[train], sample_weight=balanced_weights(y[train], len(classes)))
            right[test] = lr.predict(x[test]) == y[test]
            accuracies.append(float(right[test].mean()))
        out[name] = {"mean": float(np.mean(accuracies)), "std": float(np.std(accuracies)), "folds": accuracies,
                     "cricket_pair_recall": float(right[np.isin(y, pair)].mean()),
                     "recall": {c: float(right[y == i].mean()) for i, c in enumerate(classes)}}
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "recall"}), flush=True)
    out["protocol"] = ("5 folds over groups (crossval's, seed 27); each fold's head fitted on its training and "
                       "validation groups, no 'other' output (accuracy over the eleven classes)")
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pose", description=__doc__.splitlines()[0])
    p.add_argument("--skip-kfold", action="store_true", help="only the webcam row")
    p.add_argument("--cache", default=None, help="a cache folder to keep (default: a temporary one)")
    p.add_argument("--json", default=None, help="also write the result here")
    a = p.parse_args(argv)
    out: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="har-pose-") as tmp:
        work = Path(a.cache or tmp)
        out["webcam"] = bench_webcam(work)
        print("webcam:", json.dumps(out["webcam"]), flush=True)
        if not a.skip_kfold:
            out["kfold"] = bench_kfold(work)
    out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
