"""`python -m har_core`: thin commands over the library. Progress goes to stderr; with --json the last
line of stdout is one JSON object; a user error exits 2 with one line on stderr."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from .datasets.augment import AUGMENT_LABELS, AUGMENTS
from .errors import HarError
from .learning.teach import KIND_TITLES
from .learning.trainconfig import TrainConfig
from .models.architectures import DEFAULT_ARCH, TRAINABLE
from .models.importer import SAMPLINGS
from .models.report import clip_basis, format_metric, moment_basis, video_basis


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _bar(done: float, total: float, what: str) -> None:
    if done <= 0:
        return
    if sys.stderr.isatty():
        print(f"\r{what}: {done:.0f}/{total:.0f}", end="", file=sys.stderr, flush=True)
    elif done == total or int(done) % 25 == 0:
        _err(f"{what}: {done:.0f}/{total:.0f}")


def _load(model_dir: str | None):
    from .models.bundle import load_bundle
    from .models.registry import default_model_dir

    return load_bundle(model_dir or default_model_dir())


def cmd_info(a: argparse.Namespace) -> dict[str, Any]:
    from .datasets.dataset import scan

    index = scan(a.data_dir)
    counts = index.counts()
    for label, c in counts.items():
        print(f"{label:24s} {c['clips']:5d} clips {c['groups']:3d} groups")
    return {"roots": [str(r) for r in index.roots], "classes": counts, "clips": len(index.clips)}


def cmd_extract(a: argparse.Namespace) -> dict[str, Any]:
    """What a model reads of every clip (frames, backbone features, keypoints) into the cache: here, or on a Ray
    cluster with --ray; either way under the keys train, evaluate and teach look for."""
    from .cluster.extract import extract_here, extract_on_ray
    from .cluster.targets import targets_for
    from .config import settings
    from .datasets.dataset import scan

    if a.workers is not None and not a.ray:
        raise HarError("--workers is the number of Ray workers: it needs --ray")
    index = scan(a.data_dir).select(a.classes)
    targets = targets_for(a.model, a.pose)
    cache = a.cache or settings().cache_uri
    r = (extract_on_ray(index.clips, cache, targets, a.ray, a.workers, _err) if a.ray
         else extract_here(index.clips, cache, targets, _err))
    for name in r["short"]:
        _err(f"short clip (frames repeated): {name}")
    for f in r["failed"]:
        _err(f"failed: {Path(f['video']).name}: {f['reason']}")
    what = ", ".join(w for w, on in (("frames", targets.clips), (f"{targets.backbone} features", targets.features),
                                       ("body keypoints", targets.keypoints)) if on)
    where = f"{r['workers']} Ray workers" if a.ray else "this process"
    print(f"{what} of {r['clips']} clips for {targets.model}: {r['done']} computed, {r['skipped']} already cached, "
          f"{len(r['failed'])} failed, in {r['seconds']:.1f} s ({r['per_second']:.2f} clips/s on {where})")
    return r


def cmd_annotate_many(a: argparse.Namespace) -> dict[str, Any]:
    """annotate's label track for many videos (and with --video its overlay), resumable, here or on Ray."""
    from .cluster.annotate import annotate_many
    from .cluster.inputs import collect
    from .config import is_object_store, local_path

    if a.workers is not None and not a.ray:
        raise HarError("--workers is the number of Ray workers: it needs --ray")
    videos = collect(a.videos, skip=None if is_object_store(a.out) else local_path(a.out).resolve())
    r = annotate_many(videos, a.out, a.model, a.video, a.smooth, a.summary, a.ray, a.workers, _err)
    for f in r["failed"]:
        _err(f"failed: {Path(f['video']).name}: {f['reason']}")
    print(f"{r['done']} videos annotated, {r['skipped']} already were, {len(r['failed'])} failed, in "
          f"{r['seconds']:.1f} s ({r['per_second']:.2f} videos/s); label tracks and {Path(r['summary']).name} in "
          f"{a.out}")
    return r


def _config(a: argparse.Namespace) -> TrainConfig:
    """The training record from the options `train` and `crossval` share (checked before any work)."""
    return TrainConfig(arch=a.arch, epochs=a.epochs, batch_size=a.batch_size, patience=a.patience, seed=a.seed,
                       augment=a.augment, image_size=a.size).resolved()


def cmd_train(a: argparse.Namespace) -> dict[str, Any]:
    from .learning.training import TrainEvent, train_and_save

    def progress(e: TrainEvent) -> None:
        if e.kind == "epoch":
            logs = " ".join(f"{k}={v:.3f}" for k, v in e.logs.items())
            _err(f"epoch {e.epoch}/{e.epochs} {logs}")
        elif e.kind in ("stage", "done") and not e.batches:
            _err(e.message)

    job = train_and_save(a.data_dir, _config(a), a.out, classes=a.classes, outlier_dirs=a.outliers,
                         cache_dir=a.cache, progress=progress,
                         val_groups=a.val_groups, test_groups=a.test_groups,
                         command="python -m har_core " + shlex.join(sys.argv[1:]))
    metrics = job.meta["metrics"]
    if job.meta["split"]["held_out"] == "clips":
        print(f"held out clips, not groups: {job.meta['split']['reason']}")
    for name, m in metrics.items():
        print(format_metric(name, m))
    if "open_set" in job.meta:
        o = job.meta["open_set"]
        print(f"'no known activity' below {o['threshold']:.3f} ({o['protocol']}); 'other' learnt from "
              f"{o['outlier_clips']} clips of {len(o['outlier_classes'])} classes")
    print(f"saved {job.bundle_dir}")
    return {"bundle": str(job.bundle_dir), "metrics": metrics, "epochs_run": job.meta["training"]["epochs_run"]}


def cmd_teach(a: argparse.Namespace) -> dict[str, Any]:
    from .datasets.dataset import scan
    from .learning.teach import other_examples, teach

    index = scan(a.data_dir).select(a.classes)
    others = other_examples(index.classes) if a.others is None else [
        c for c in scan(a.others).clips if c.label not in index.classes]
    stages: list[str] = []

    def progress(share: float, message: str) -> None:
        stage = message.split(" (")[0]
        if not stages or stages[-1] != stage:
            stages.append(stage)
            _err(f"{share:4.0%} {stage}")

    res = teach({label: [c.path for c in clips] for label, clips in index.by_class().items()}, a.out, kind=a.kind,
                others=others, cache_dir=a.cache, overwrite=a.overwrite, progress=progress,
                command="python -m har_core " + shlex.join(sys.argv[1:]))
    m = res.meta["metrics"]["teach"]
    print(format_metric("teach", m))
    for e in res.examples:
        if e["predicted"] != e["activity"]:
            print(f"  {e['file']} ({e['activity']}) was taken for {e['predicted']} (score {e['score']:.2f})")
    o = res.meta["open_set"]
    print(f"'no known activity' below {o['threshold']:.3f}; 'other' learnt from {o['outlier_clips']} clips")
    print(f"saved {res.bundle_dir} in {res.meta['training']['seconds']:.1f} s")
    return {"bundle": str(res.bundle_dir), "metrics": res.meta["metrics"], "examples": res.examples}


def cmd_crossval(a: argparse.Namespace) -> dict[str, Any]:
    from .learning.crossval import FoldResult, crossval, record_in_bundle
    from .learning.training import TrainEvent

    def progress(e: TrainEvent) -> None:
        if e.kind == "epoch":
            _err(f"epoch {e.epoch}/{e.epochs} " + " ".join(f"{k}={v:.3f}" for k, v in e.logs.items()))

    def fold_done(f: FoldResult) -> None:
        _err(f"fold {f.fold}/{a.k}: accuracy {f.accuracy:.3f} on {f.n} clips of groups {','.join(f.test_groups)} "
             f"(validation {','.join(f.val_groups)}, best epoch {f.best_epoch}/{f.epochs_run}, {f.seconds:.0f} s)")

    res = crossval(a.data_dir, _config(a), k=a.k, classes=a.classes, outlier_dirs=a.outliers, cache_dir=a.cache,
                   progress=progress, on_fold=fold_done)
    print(f"{a.arch}: " + format_metric("crossval", res.as_dict()))
    print("recall per class: " + ", ".join(f"{c} {v['recall']:.2f} ({v['support']})" for c, v in res.per_class.items()))
    if res.open_set:
        o = res.open_set
        print(f"open set: {o['known_accepted']:.3f} of {o['n_known']} known clips accepted, "
              f"{o['unknown_rejected']:.3f} of {o['n_unknown']} unknown clips rejected, AUROC {o['auroc']:.3f} "
              f"({o['protocol']})")
    result = {**res.as_dict(), "command": "python -m har_core " + shlex.join(sys.argv[1:])}
    if a.record:
        record_in_bundle(a.record, result)
        print(f"recorded in {Path(a.record) / 'model.json'}")
    return result


def cmd_calibrate(a: argparse.Namespace) -> dict[str, Any]:
    from .learning.crossval import calibrate_max_softmax

    meta = calibrate_max_softmax(a.model, a.data_dir, a.outliers, a.cache)
    o = meta["open_set"]
    print(f"'no known activity' below {o['threshold']:.3f}: {o['test']['known_accepted']:.3f} of "
          f"{o['test']['n_known']} known test clips accepted, {o['test']['unknown_rejected']:.3f} of "
          f"{o['test']['n_unknown']} unknown clips rejected, AUROC {o['test']['auroc']:.3f} ({o['protocol']})")
    return o


def cmd_import(a: argparse.Namespace) -> dict[str, Any]:
    from .models.importer import import_model

    out = import_model(a.model, a.out, a.classes, bgr=not a.rgb, scale=a.scale, sampling=a.sampling,
                       command="python -m har_core " + shlex.join(sys.argv[1:]))
    from .models.bundle import read_meta

    meta = read_meta(out)
    s = meta["sampler"]
    print(f"imported {Path(a.model).name} as {out}: {len(a.classes)} classes, {s['sequence_length']} frames of "
          f"{s['image_size']} px ({meta['imported']['sampling']} sampling), {meta['imported']['preprocessing']}")
    return {"bundle": str(out), "classes": a.classes, "sampler": s, "imported": meta["imported"]}


def cmd_export(a: argparse.Namespace) -> dict[str, Any]:
    """(Re)write the LiteRT files of saved bundles from their Keras models, each checked against Keras."""
    from .models.bundle import add_litert

    out = {}
    for folder in a.bundles:
        record = add_litert(folder)
        parts = [f"shared encoder {record['encoder']['shared']['file']}" if "shared" in record.get("encoder", {})
                 else "", *(record[k]["file"] for k in ("encoder", "head", "clip") if "file" in record.get(k, {}))]
        print(f"{Path(folder).name}: {', '.join(p for p in parts if p)} (largest difference from Keras "
              f"{record['max_abs_diff']:.1e})")
        out[str(folder)] = record
    return out


def cmd_evaluate(a: argparse.Namespace) -> dict[str, Any]:
    """Accuracy on the model's classes in the data; with a 'no known activity' threshold, also how many clips of
    the other classes (activities it never learnt, your own non-activity videos) it rejects."""
    from .datasets.dataset import scan
    from .learning.evaluation import predict_clips, score_probs
    from .learning.openset import known_score

    bundle = _load(a.model)
    index = scan(a.data_dir)
    clips = [c for c in index.clips if not a.groups or c.group in a.groups]
    known = [c for c in clips if c.label in bundle.classes]
    others = [c for c in clips if c.label not in bundle.classes]
    if others and bundle.threshold is None:
        _err(f"skipped classes the model does not know (it has no 'no known activity' threshold): "
             f"{', '.join(sorted({c.label for c in others}))}")
        others = []
    if not known and not others:
        raise HarError("no clips of the model's classes (" + ", ".join(bundle.classes) + ") in the chosen data and groups")
    out: dict[str, Any] = {}
    if known:
        read, probs = predict_clips(bundle, known, a.cache, progress=lambda d, t: _bar(d, t, "reading"))
        held = sorted({c.group for c in read})
        trained_on = set(bundle.meta.get("split", {}).get("train_groups", [])) | set(
            bundle.meta.get("split", {}).get("val_groups", []))
        seen = sorted(set(held) & trained_on)
        if seen:
            _err(f"warning: groups {','.join(seen)} were used in training or validation; this score is optimistic")
        ev = score_probs(probs, [bundle.classes.index(c.label) for c in read], bundle.classes)
        print(f"accuracy {ev.accuracy:.3f} on {ev.n} clips of groups {','.join(held)}")
        out.update(accuracy=ev.accuracy, n=ev.n, per_class=ev.per_class, confusion=ev.confusion, classes=ev.classes,
                   groups=held, groups_seen_in_training=seen)
        if bundle.threshold is not None:
            out["known_accepted"] = float((known_score(probs, len(bundle.classes)) >= bundle.threshold).mean())
            print(f"known clips accepted (not 'no known activity'): {out['known_accepted']:.3f} "
                  f"at threshold {bundle.threshold:.3f}")
    if others:
        read, probs = predict_clips(bundle, others, a.cache, progress=lambda d, t: _bar(d, t, "reading"))
        rejected = known_score(probs, len(bundle.classes)) < bundle.threshold
        labels = [c.label for c in read]
        out["unknown_rejected"] = float(rejected.mean())
        out["rejected_by_class"] = {c: float(rejected[[x == c for x in labels]].mean()) for c in sorted(set(labels))}
        print(f"clips of other classes called 'no known activity': {int(rejected.sum())} of {len(labels)} ("
              + ", ".join(f"{c} {v:.0%}" for c, v in out["rejected_by_class"].items()) + ")")
    return out


def _check_video(a: argparse.Namespace) -> None:
    """Fail on an unreadable input before spending seconds loading a model; a file:// URL becomes its path."""
    from .media.video import local_path, open_capture

    a.video = local_path(a.video)
    open_capture(a.video).release()


def cmd_classify(a: argparse.Namespace) -> dict[str, Any]:
    from .prediction.inference import classify

    _check_video(a)
    bundle = _load(a.model)
    pred, facts = classify(bundle, a.video, top_k=a.top_k)
    if facts["truncated"]:
        _err(f"warning: only {facts['frames']} of the {facts['claimed_frames']} frames the file claims could be "
             "decoded (truncated?); classified what was readable")
    if facts["short"]:
        _err(f"short video: {facts['frames']} frames, some were repeated to make {bundle.sampler.frames}")
    if facts.get("person_frames") == 0:
        _err("no person was found in any frame: this body-pose model needs a person in view")
    basis = clip_basis(bundle.sampler.frames)  # not annotate's mean of windows: say which
    print(f"{pred.label} ({pred.confidence:.1%} on {basis})" if pred.known else
          f"{pred.shown} (best guess {pred.label}, {pred.confidence:.1%} on {basis}, under the threshold "
          f"{bundle.threshold:.1%})")
    for label, p in pred.top_k:
        print(f"  {label:24s} {p:.3f}")
    return {**pred.as_dict(), "confidence_of": basis, **facts, "device": bundle.predictor.device}


def cmd_annotate(a: argparse.Namespace) -> dict[str, Any]:
    from .prediction.inference import annotate

    out = Path(a.out)
    if out.suffix.lower() != ".mp4":
        raise HarError("the output must be an .mp4 file")
    if not out.parent.is_dir():
        raise HarError(f"no such folder for the output: {out.parent}")
    _check_video(a)
    bundle = _load(a.model)
    start = time.perf_counter()
    if a.skeleton and not bundle.reads_pose:
        raise HarError(f"{bundle.name} does not read the body's pose: --skeleton is for models taught with "
                       "--kind motion")
    res = annotate(bundle, a.video, out, smooth=a.smooth, skeleton=a.skeleton,
                   progress=lambda f, s: _bar(f * 100, 100, s) if int(f * 100) % 25 == 0 else None)
    seconds = time.perf_counter() - start
    if res.person_windows == 0:
        _err("no person was found in any frame: this body-pose model needs a person in view")
    basis = video_basis(res.full_windows, bundle.sampler.window_seconds)
    smooth = bundle.sampler.smooth if a.smooth is None else max(1, a.smooth)
    print(f"{res.prediction.shown} ({res.prediction.confidence:.1%}, {basis}): wrote {out} "
          f"({res.frames} frames, {res.frames / seconds:.1f} frames/s on {res.device}); each moment's label on "
          f"the video: {moment_basis(smooth)}")
    return {**res.as_dict(), "confidence_of": basis, "wall_seconds": round(seconds, 3)}


def cmd_download(a: argparse.Namespace) -> dict[str, Any]:
    from .datasets.sources import fetch_link

    path = fetch_link(a.url, a.cache, max_seconds=a.max_seconds,
                      progress=lambda f, what: _bar(f * 100, 100, what) if int(f * 100) % 25 == 0 else None)
    print(path)
    return {"path": str(path)}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit 2), like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _err(f"error: {message} (see {self.prog} --help)")
        sys.exit(2)


DATA_HELP = "UCF50-layout folder(s): <folder>/<Class>/v_<Class>_gNN_cMM.avi; several merge by class name"


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m har_core", description="HAR Studio: human activity recognition")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        return sp

    sp = add("info", "classes, clips and groups of a dataset")
    sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=DATA_HELP)
    def add_ray(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--ray", nargs="?", const="auto", default=None, metavar="ADDRESS",
                        help="run on an existing Ray cluster: auto (RAY_ADDRESS or the cluster started on this "
                        "machine), host:port or ray://host:port (default: here, in this process)")
        sp.add_argument("--workers", type=int, default=None, help="Ray workers, one CPU each (default: the "
                        "cluster's CPUs)")

    sp = add("extract", "what a model reads of every clip (sampled frames, backbone features, body keypoints) into "
             "the cache, here or on a Ray cluster")
    sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=DATA_HELP)
    sp.add_argument("--cache", default=None, help="cache folder or URI (default: HAR_CACHE_DIR or "
                    "~/.cache/har_studio; with --ray also s3://, gs://, abfs://, hdfs://)")
    sp.add_argument("--classes", nargs="+", default=None)
    sp.add_argument("--model", default=None, help="the bundle whose inputs to compute (default: the default "
                    "model); e.g. weights/imagenet_mean for Lite0's features, weights/lrcn for 64 px frames")
    sp.add_argument("--pose", action="store_true", help="also body keypoints, for teach --kind motion")
    add_ray(sp)

    def add_training(name: str, help_: str) -> argparse.ArgumentParser:
        """A command that trains: the data, architecture and training settings train and crossval share."""
        sp = add(name, help_)
        sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=DATA_HELP)
        sp.add_argument("--arch", default=DEFAULT_ARCH, choices=list(TRAINABLE),
                        help="; ".join(f"{a.name}: {a.title}" for a in TRAINABLE.values()) +
                        f" (default {DEFAULT_ARCH})")
        sp.add_argument("--classes", nargs="+", default=None)
        sp.add_argument("--epochs", type=int, default=None, help="default: the architecture's")
        sp.add_argument("--batch-size", type=int, default=None, help="default: the architecture's")
        sp.add_argument("--patience", type=int, default=None, help="default: the architecture's (the paper's "
                        "ConvLSTM 10, LRCN 15)")
        sp.add_argument("--seed", type=int, default=27)
        sp.add_argument("--augment", default="none", choices=list(AUGMENTS),
                        help="training augmentation: " + "; ".join(f"{k}: {v}" for k, v in AUGMENT_LABELS.items()))
        sp.add_argument("--size", type=int, default=None, help="frame side in pixels the model reads "
                        "(default: the architecture's, 64 for the paper's)")
        sp.add_argument("--outliers", nargs="+", default=None, metavar="DIR",
                        help="folders of clips of other activities (classes the model does not learn are "
                        "taken): pretrained architectures learn 'other' from them and answer 'no known activity'")
        sp.add_argument("--cache", default=None)
        return sp

    sp = add_training("train", "train a model and save a bundle")
    sp.add_argument("--out", required=True, help="bundle folder to write")
    sp.add_argument("--val-groups", nargs="+", default=None, help="e.g. g05 g12 (default: chosen by seed)")
    sp.add_argument("--test-groups", nargs="+", default=None, help="e.g. g01 g02 (default: chosen by seed)")
    sp = add("teach", "teach activities from a few clips each: every example scored by a model taught without "
             "it, then a model taught from all")
    sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help="folder(s) of <Activity>/<clip> files; "
                    "a clip named ..._gNN_... belongs to group gNN (a person, a video), any other is its own group")
    sp.add_argument("--out", required=True, help="bundle folder to write")
    sp.add_argument("--kind", default="scene", choices=list(KIND_TITLES),
                    help="; ".join(f"{k}: {v}" for k, v in KIND_TITLES.items()) + " (default scene)")
    sp.add_argument("--classes", nargs="+", default=None)
    sp.add_argument("--others", nargs="+", default=None, metavar="DIR", help="clips of other activities, for "
                    "'no known activity' (default: the shipped examples of activities not taught)")
    sp.add_argument("--overwrite", action="store_true")
    sp.add_argument("--cache", default=None)
    sp = add_training("crossval", "k-fold over groups: train per fold, score on its held-out groups")
    sp.add_argument("-k", type=int, default=5, help="number of folds (each group is tested once)")
    sp.add_argument("--record", default=None, metavar="BUNDLE",
                    help="store the result in this bundle's model.json (same architecture and classes)")
    sp = add("calibrate", "give a model without an 'other' output a 'no known activity' threshold")
    sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR",
                    help="the data it was trained on (its validation and test groups are read)")
    sp.add_argument("--model", required=True)
    sp.add_argument("--outliers", nargs="+", required=True, metavar="DIR",
                    help="folders of clips of activities the model does not know")
    sp.add_argument("--cache", default=None)
    sp = add("import", "turn a model trained elsewhere (the tutorial's .keras, legacy .h5 or SavedModel) into a "
                       "bundle")
    sp.add_argument("model", help="a .keras or .h5 file, a tf.keras SavedModel folder, or a .zip of one")
    sp.add_argument("--out", required=True, help="bundle folder to write (must not exist)")
    sp.add_argument("--classes", nargs="+", required=True, help="the model's classes, in output order")
    sp.add_argument("--rgb", action="store_true", help="the model was trained on RGB frames (the tutorial: BGR)")
    sp.add_argument("--scale", type=float, default=1 / 255, help="the model's input scale (the tutorial: 1/255)")
    sp.add_argument("--sampling", choices=list(SAMPLINGS), default="tutorial",
                    help="a clip's frames: the tutorial's (every n//L-th frame from the first, linear resize) or "
                         "the app's (evenly spread, area resize)")
    sp = add("export", "write the files LiteRT predicts with into saved bundles (needs TensorFlow; a shared encoder "
                       "goes to <weights>/encoders beside them)")
    sp.add_argument("bundles", nargs="+", metavar="BUNDLE", help="bundle folders")
    sp = add("evaluate", "score a model on the classes it knows")
    sp.add_argument("data_dir", nargs="+", metavar="DATA_DIR", help=DATA_HELP)
    sp.add_argument("--model", default=None)
    sp.add_argument("--groups", nargs="+", default=None, help="only these groups, e.g. g01 g11")
    sp.add_argument("--cache", default=None)
    sp = add("classify", "one label for a whole video")
    sp.add_argument("video")
    sp.add_argument("--model", default=None)
    sp.add_argument("--top-k", type=int, default=3)
    sp = add("annotate", "write an H.264 copy of a video with the label on every frame")
    sp.add_argument("video")
    sp.add_argument("--out", required=True)
    sp.add_argument("--model", default=None)
    sp.add_argument("--smooth", type=int, default=None, help="average over this many recent windows (default: the "
                    "model's sampler, 3)")
    sp.add_argument("--skeleton", action="store_true", help="also draw the body's keypoints (body-pose models)")
    sp = add("annotate-many", "a label track per video (and with --video its overlay) and a summary table, "
             "resumable; here or on a Ray cluster")
    sp.add_argument("videos", nargs="+", metavar="VIDEOS", help="folders (searched through), list files (a path a "
                    "line), globs (quote them) or video files")
    sp.add_argument("--out", required=True, help="output folder or URI: <video name>.json (+ .mp4), summary.csv")
    sp.add_argument("--model", default=None)
    sp.add_argument("--video", action="store_true", help="also write each video's H.264 overlay")
    sp.add_argument("--smooth", type=int, default=None, help="as annotate's")
    sp.add_argument("--summary", default="csv", choices=["csv", "parquet"], help="the table's format")
    add_ray(sp)
    sp = add("download", "download a video from a link (yt-dlp)")
    sp.add_argument("url")
    sp.add_argument("--cache", default=None)
    sp.add_argument("--max-seconds", type=float, default=None)
    return p


COMMANDS = {"info": cmd_info, "extract": cmd_extract, "train": cmd_train, "teach": cmd_teach, "crossval": cmd_crossval,
            "calibrate": cmd_calibrate, "import": cmd_import, "export": cmd_export, "evaluate": cmd_evaluate,
            "classify": cmd_classify, "annotate": cmd_annotate, "annotate-many": cmd_annotate_many,
            "download": cmd_download}


def _quiet_native_logs() -> None:
    """Native libraries write straight to file descriptor 2: TensorFlow's start-up lines (see quiet.py) and
    OpenCV's AVI parser on a damaged file ("Unexpected element. Expected: LIST", raw bytes included). A
    command's stderr is ours: one line per user error, progress, Python tracebacks. So they stay on a copy of
    it, and fd 2 points at /dev/null (HAR_DEBUG=1 keeps everything)."""
    if os.environ.get("HAR_DEBUG"):
        return
    sys.stderr.flush()
    keep = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = os.fdopen(keep, "w", buffering=1)


def _check_cache(a: argparse.Namespace) -> None:
    """An object-store cache (HAR_CACHE_DIR=s3://...) is written by `extract --ray` alone: the commands that read
    the cache read a folder (a bucket mounted on this machine, say)."""
    from .config import is_object_store, settings

    cache = getattr(a, "cache", None) or settings().cache_uri
    if a.command in ("train", "teach", "crossval", "calibrate", "evaluate", "download") and is_object_store(cache):
        raise HarError(f"the cache {cache} is an object store: `{a.command}` reads the cache from a folder (mount "
                       "it on this machine and give that folder); only `extract --ray` writes there")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if argv is None:
        _quiet_native_logs()
    try:
        _check_cache(args)
        result = COMMANDS[args.command](args)
    except HarError as exc:
        _err(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    if args.json:
        print(json.dumps(result, default=str))
    return 0
