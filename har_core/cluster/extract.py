"""`extract`: every clip's sampled frames, its backbone features and (for body-pose models) its keypoints, in
the cache under the keys a local run uses, so that training, evaluation and teaching on the driver find them.

Here (no --ray) it is the library's own path: `datasets.extract`, then `learning.features`. On a cluster each
Ray actor loads the LiteRT encoder once and takes clips one by one: decode and sample, then encode, each
output written whole. The driver computes every clip's cache key (file identity as the driver sees it: the
videos must sit at the same path on every node) and sends only clips with an output missing.
"""
from __future__ import annotations

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..datasets.dataset import Clip, cache_key, extract, write_clip
from ..errors import HarError
from ..learning.features import FEATURE_DTYPE, cached_features, cached_keypoints
from ..media.sampling import ClipSampler
from ..media.video import sample_clip
from ..models import encoders
from ..models.encoders import frame_encoder
from ..pose.blazepose import estimator
from .connect import connect, disconnect
from .progress import EVERY, Tally
from .runner import Row, Worker, one_line, run_on_ray
from .store import Store
from .targets import Targets

Say = Callable[[str], None]


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


class ClipWorker(Worker):
    """One per Ray actor: the encoder loaded once (LiteRT, never TensorFlow), then each clip's missing outputs."""

    def __init__(self, cache: str, targets: Targets, job: str, threads: int | None = None):
        super().__init__(threads)
        self.store, self.targets, self.job = Store(cache), targets, job
        self.encoder = None
        if targets.encoder is not None:
            path = encoders.find(targets.encoder)
            if path is None:
                raise HarError(f"this worker has no {targets.encoder['file']}: give every node the same weights/")
            self.encoder = encoders.load(path)

    def one(self, item: Row) -> Row:
        video, files = item["video"], self.targets.files(item["key"])
        start, source = time.perf_counter(), -1
        try:
            frames = None
            if "clip" in files and not self.store.exists(files["clip"]):
                sampled = sample_clip(video, ClipSampler(self.targets.length, int(self.targets.size or 0)))
                buf = io.BytesIO()
                write_clip(buf, sampled.frames, sampled.source_frames)
                self.store.write(files["clip"], buf.getvalue(), self.job)
                frames, source = sampled.frames, sampled.source_frames
            if "features" in files and self.encoder is not None and not self.store.exists(files["features"]):
                if frames is None:
                    with np.load(io.BytesIO(self.store.read(files["clip"]))) as z:
                        frames = z["frames"]
                self.store.write(files["features"], _npy(self.encoder.encode(frames).astype(FEATURE_DTYPE)), self.job)
            if "keypoints" in files and not self.store.exists(files["keypoints"]):
                sampler = ClipSampler.from_meta(self.targets.pose or {})
                self.store.write(files["keypoints"], _npy(estimator().track(sample_clip(video, sampler).frames)),
                                 self.job)
        except Exception as exc:  # noqa: BLE001  one clip's failure is a row with its reason; the job goes on
            return {"video": video, "status": "failed", "reason": one_line(exc), "frames": source,
                    "wall_s": time.perf_counter() - start}
        return {"video": video, "status": "done", "reason": "", "frames": source,
                "wall_s": time.perf_counter() - start}


def plan(clips: list[Clip], targets: Targets, store: Store, tally: Tally) -> list[Row]:
    """The clips with an output missing, as work items (video, cache key); the others are counted as skipped
    (one listing per cache folder, not one request per file)."""
    def key(clip: Clip) -> str | Exception:
        try:
            return cache_key(clip.path)
        except OSError as exc:
            return exc

    with ThreadPoolExecutor(16) as pool:  # a stat each: on a shared filesystem, latency-bound
        keys = list(pool.map(key, clips))
    present = {folder: store.names(folder) for folder in targets.folders}
    items = []
    for clip, k in zip(clips, keys):
        video = str(clip.path.resolve())
        if isinstance(k, Exception):
            tally.add({"video": video, "status": "failed", "reason": f"cannot read {clip.path.name}: {one_line(k)}",
                       "frames": -1, "wall_s": 0.0})
        elif all(Path(f).name in present[str(Path(f).parent)] for f in targets.files(k).values()):
            tally.add({"video": video, "status": "skipped", "reason": "", "frames": -1, "wall_s": 0.0})
        else:
            items.append({"video": video, "key": k})
    return items


def _report(tally: Tally, targets: Targets, cache: str, **more: Any) -> dict[str, Any]:
    short = [Path(r["video"]).name for r in tally.ordered() if 0 <= r["frames"] < targets.length]
    return {**tally.report(), "short": short, "cache": cache, "model": targets.model, "backbone": targets.backbone,
            "keypoints": targets.pose is not None, **more}


def extract_on_ray(clips: list[Clip], cache: str, targets: Targets, address: str, workers: int | None,
                   say: Say) -> dict[str, Any]:
    """Every clip's missing outputs computed on the Ray cluster at `address`, one actor per CPU by default."""
    store = Store(cache)
    store.check_folder("the cache")
    cpus = connect(address)
    job, tally = uuid.uuid4().hex[:8], Tally([str(c.path.resolve()) for c in clips], "clips", say)
    try:
        items = plan(clips, targets, store, tally)
        say(f"{len(items)} of {len(clips)} clips to compute on {workers or cpus} Ray workers")
        if items:
            run_on_ray(ClipWorker, (cache, targets, job), items, workers or cpus, tally.add)
    finally:
        store.sweep(targets.folders, job)
        disconnect()
    return _report(tally, targets, cache, ray=address, workers=workers or cpus)


def extract_here(clips: list[Clip], cache: str, targets: Targets, say: Say) -> dict[str, Any]:
    """The local path, in this process (threads for decoding, LiteRT on every core): the library's own
    functions on the clips with an output missing, reported like the cluster's."""
    store = Store(cache)
    if not store.local:
        raise HarError(f"the cache {cache} is an object store: only `extract --ray` writes there (a local run "
                       "reads and writes a folder)")
    store.check_folder("the cache")
    tally = Tally([str(c.path.resolve()) for c in clips], "clips", say)
    todo = {item["video"] for item in plan(clips, targets, store, tally)}
    work = [c for c in clips if str(c.path.resolve()) in todo]
    root, failed, frames = Path(store.root), {}, {}

    def every(stage: str) -> Callable[[int, int], None]:
        return lambda done, total: say(f"{stage}: {done}/{total}") if done % EVERY == 0 or done == total else None

    if targets.clips and work:
        ex = extract(work, root, targets.length, int(targets.size or 0), progress=every("sampling frames"))
        failed = {c.path: msg for c, msg in ex.failed}
        frames = {c.path: n for c, n in zip(ex.clips, ex.source_frames)}
        work = ex.clips
        if targets.backbone:
            cached_features(ex.paths, frame_encoder(targets.backbone, int(targets.size or 0)), targets.backbone,
                            every("encoding frames"))
    if targets.pose and work:
        cached_keypoints([c.path for c in work], ClipSampler.from_meta(targets.pose), root, every("finding the body"))
    for clip in (c for c in clips if str(c.path.resolve()) in todo):
        tally.add({"video": str(clip.path.resolve()), "status": "failed" if clip.path in failed else "done",
                   "reason": failed.get(clip.path, ""), "frames": frames.get(clip.path, -1), "wall_s": 0.0})
    return _report(tally, targets, cache, ray=None, workers=1)
