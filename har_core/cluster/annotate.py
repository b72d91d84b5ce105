"""`annotate-many`: per video a JSON label track (the windows and smoothing of `annotate`) and, if asked, the
H.264 overlay; here in this process or on a Ray cluster (one loaded model per actor).

Resumable and exactly once: a video's files are each written whole (Store), the overlay before the track, so
a track in the output folder means that video is done. A rerun skips a video whose track names the same file
version (size and modification time) and the same model, and does any other again, replacing what was there.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..models.bundle import META_FILE, load_bundle, read_meta
from ..models.registry import default_model_dir
from ..models.report import video_basis
from ..prediction.inference import NO_KNOWN_ACTIVITY, annotate
from .connect import connect, disconnect
from .inputs import output_names
from .progress import Tally
from .runner import Row, Worker, one_line, run_here, run_on_ray
from .store import Store
from .summary import write_summary


@dataclass(frozen=True)
class AnnotateJob:
    """What every worker needs: the model folder (the same path on every node), the output location, whether
    to write overlays, the smoothing, and the job's id (its partial files are named for it)."""

    model: str
    out: str
    overlay: bool
    smooth: int | None
    job: str


def model_identity(model_dir: Path) -> dict[str, str]:
    """The model a track was made by: a retrained bundle in the same folder is another model."""
    digest = hashlib.sha256((model_dir / META_FILE).read_bytes()).hexdigest()[:16]
    return {"name": model_dir.name, "path": str(model_dir), "model_json_sha256": digest}


def summary_row(video: str, name: str, status: str, track: dict[str, Any] | None = None, reason: str = "",
                wall_s: float = 0.0) -> Row:
    """A video's row of the table (and of the job's tally)."""
    if track is None:
        return {"video": video, "name": name, "status": status, "reason": reason, "label": "", "known": None,
                "confidence": None, "frames": None, "duration_s": None, "windows": None, "track": "", "overlay": "",
                "wall_s": round(wall_s, 3)}
    return {"video": video, "name": name, "status": status, "reason": reason,
            "label": track["label"] if track["known"] else NO_KNOWN_ACTIVITY, "known": track["known"],
            "confidence": track["confidence"], "frames": track["frames"], "duration_s": track["seconds"],
            "windows": len(track["timeline"]), "track": f"{name}.json", "overlay": track.get("overlay") or "",
            "wall_s": round(wall_s, 3)}


class Annotator(Worker):
    """One per process or Ray actor: the model loaded once (LiteRT), then video after video."""

    def __init__(self, job: AnnotateJob, threads: int | None = None):
        super().__init__(threads)
        self.job, self.store = job, Store(job.out)
        self.bundle = load_bundle(job.model, runtime="litert")
        self.model = model_identity(Path(job.model))

    def one(self, item: Row) -> Row:
        video, name, start = item["video"], item["name"], time.perf_counter()
        try:
            st = os.stat(video)
            source = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
            track, status = self._finished(video, name, source), "skipped"
            if track is None:
                track, status = self._annotate(video, name, source), "done"
        except Exception as exc:  # noqa: BLE001  one video's failure is a row with its reason; the job goes on
            return summary_row(video, name, "failed", reason=one_line(exc), wall_s=time.perf_counter() - start)
        return summary_row(video, name, status, track, wall_s=time.perf_counter() - start)

    def _finished(self, video: str, name: str, source: dict[str, int]) -> dict[str, Any] | None:
        """The track a previous run wrote for this very file and model (and its overlay, if one is wanted)."""
        if not self.store.exists(f"{name}.json"):
            return None
        try:
            track = json.loads(self.store.read(f"{name}.json"))
        except ValueError:
            return None
        same = (track.get("video"), track.get("source"), track.get("model")) == (video, source, self.model)
        overlay = track.get("overlay")
        return track if same and (not self.job.overlay or (overlay and self.store.exists(overlay))) else None

    def _annotate(self, video: str, name: str, source: dict[str, int]) -> dict[str, Any]:
        overlay = f"{name}.mp4" if self.job.overlay else None
        if overlay:  # encoded on the worker's disk, then stored whole: a killed worker leaves nothing in --out
            with tempfile.TemporaryDirectory(prefix="har-annotate-") as tmp:
                result = annotate(self.bundle, video, Path(tmp) / overlay, smooth=self.job.smooth)
                self.store.upload(overlay, Path(tmp) / overlay, self.job.job)
        else:
            result = annotate(self.bundle, video, None, smooth=self.job.smooth)
        track = {"video": video, "source": source, "model": self.model,
                 **{k: v for k, v in result.as_dict().items() if k != "out"},
                 "confidence_of": video_basis(result.full_windows, self.bundle.sampler.window_seconds),
                 "overlay": overlay}
        self.store.write(f"{name}.json", (json.dumps(track, indent=1) + "\n").encode(), self.job.job)
        return track


def annotate_many(videos: list[Path], out: str, model_dir: str | None, overlay: bool, smooth: int | None,
                  summary: str, address: str | None, workers: int | None,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """Every video's track (and overlay) in `out`, then the summary table; on the Ray cluster at `address`, or
    here in this process when it is None."""
    store = Store(out)
    store.check_folder("--out")
    model = Path(model_dir).resolve() if model_dir else default_model_dir().resolve()
    read_meta(model)  # a bad model is one line now, not one failure per video
    items = [{"video": str(v), "name": n} for v, n in zip(videos, output_names(videos))]
    job = AnnotateJob(str(model), out, overlay, smooth, uuid.uuid4().hex[:8])
    cpus = connect(address) if address else 1
    n = (workers or cpus) if address else 1
    tally = Tally([str(v) for v in videos], "videos", say)
    try:
        if address:
            run_on_ray(Annotator, (job,), items, n, tally.add)
        else:
            run_here(Annotator(job), items, tally.add)
    finally:
        store.sweep([""], job.job)
        if address:
            disconnect()
    key = write_summary(store, tally.ordered(), summary, job.job)
    return {**tally.report(), "out": out, "summary": store.path(key), "model": model.name, "ray": address,
            "workers": n}
