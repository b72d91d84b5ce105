"""The training job of a server process: one at a time, in a background thread, visible to every session.

Streamlit reruns a page script on every click, so training cannot live in a script (field note 6). A
`TrainingJobs` object (one per process and weights folder, from st.cache_resource) owns the worker
thread; progress events from `training.train_and_save` are folded into a snapshot under a lock, which any
page reads (`current`) on each rerun or fragment tick. The job's status is also written to
`<weights>/.jobs/last.json` at start, on each epoch and at the end, so that a server started after a
crash can say which training was interrupted and that no bundle was written by it.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..config import settings
from ..datasets.dataset import scan
from ..datasets.splits import split_for
from ..errors import HarError
from ..models.bundle import pid_alive
from ..models.registry import ModelRegistry
from .trainconfig import TrainConfig

if TYPE_CHECKING:  # training imports TensorFlow: only the worker thread needs it, pages render without
    from .training import TrainEvent, TrainJobResult

log = logging.getLogger(__name__)

STATUS_DIR = ".jobs"
STATUS_FILE = "last.json"
# Terminal states; "running" is the only other one.
DONE, FAILED, CANCELLED, INTERRUPTED = "done", "failed", "cancelled", "interrupted"

Trainer = Callable[..., "TrainJobResult"]


@dataclass(frozen=True)
class TrainRequest:
    """What the user asked for; `name` becomes the bundle folder under the weights folder."""

    name: str
    data_dir: str | list[str]  # one folder or several, merged by class name
    config: TrainConfig = field(default_factory=TrainConfig)  # architecture and training settings
    classes: list[str] | None = None
    val_groups: list[str] | None = None
    test_groups: list[str] | None = None
    test_fraction: float = 0.2
    outlier_dirs: list[str] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainRequest":
        """A request as last.json holds it (a file from before the config record held its fields flat)."""
        config = data.get("config") or data
        return cls(config=TrainConfig(**{k: v for k, v in config.items() if k in TrainConfig.__dataclass_fields__}),
                   **{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "config"})


@dataclass
class JobStatus:
    """Everything a page shows about a job; also what last.json holds."""

    request: TrainRequest
    state: str = "running"
    pid: int = field(default_factory=os.getpid)
    started_at: str = field(default_factory=lambda: _now())
    updated_at: str = field(default_factory=lambda: _now())
    started_monotonic: float = field(default_factory=time.monotonic)
    message: str = "starting"
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    batches: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    cancel_requested: bool = False
    bundle: str | None = None
    meta: dict[str, Any] | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_monotonic

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("started_monotonic")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "JobStatus":
        req = TrainRequest.from_json(data.pop("request"))
        data.pop("started_monotonic", None)
        return cls(request=req, **{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class TrainingJobs:
    """One training job at a time for this process, in a worker thread; thread-safe.

    `trainer` defaults to `training.train_and_save` (tests pass a stand-in with its signature).
    """

    def __init__(self, weights_dir: str | os.PathLike, cache_dir: str | os.PathLike | None = None,
                 trainer: Trainer | None = None):
        self.registry = ModelRegistry(weights_dir)
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.status_path = self.registry.root / STATUS_DIR / STATUS_FILE
        self._trainer = trainer
        self._lock = threading.Lock()
        self._status: JobStatus | None = None
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    # ---- reading -------------------------------------------------------------------------------
    def current(self) -> JobStatus | None:
        """A copy of this process's latest job (running or finished), or None if none ran here."""
        with self._lock:
            return copy.deepcopy(self._status)

    def running(self) -> bool:
        with self._lock:
            return self._status is not None and self._status.running

    def last_on_disk(self) -> JobStatus | None:
        """The status file as written by the latest job of any process using this weights folder."""
        try:
            return JobStatus.from_json(json.loads(self.status_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable %s: %s", self.status_path, exc)
            return None

    def interrupted(self) -> JobStatus | None:
        """The last job if it was cut off (server killed or crashed): it says running on disk but no live
        process runs it. Marks it 'interrupted' on disk so the next look gives the same answer."""
        with self._lock:
            last = self.last_on_disk()
            if last is None:
                return None
            if last.state == INTERRUPTED:
                return last
            if last.state != "running":
                return None
            here = last.pid == os.getpid()
            live = (self._status is not None and self._status.running) if here else pid_alive(last.pid)
            if live:
                return None
            last.state = INTERRUPTED
            last.message = f"interrupted at epoch {last.epoch} of {last.epochs}"
            self._write(last)
            return last

    # ---- acting --------------------------------------------------------------------------------
    def start(self, request: TrainRequest) -> JobStatus:
        """Start training in the background. Refuses, with a HarError and before any work, a server where
        training is off, a second job, a taken or unsafe name, and data that cannot make a split."""
        if not settings().allow_training:
            raise HarError("training is turned off on this server (HAR_ALLOW_TRAINING=0)")
        config = request.config.resolved()
        out = self.registry.path_for(request.name)
        index = scan(request.data_dir).select(request.classes)
        split_for(index.clips, request.val_groups, request.test_groups,
                  test_fraction=request.test_fraction, seed=config.seed)
        with self._lock:
            if self._status is not None and self._status.running:
                s = self._status
                raise HarError(f"a training job is already running ({s.request.name}, {s.request.config.arch}, "
                               f"started {s.started_at}); wait for it or cancel it")
            if out.exists():
                raise HarError(f"a model named {request.name!r} already exists; choose another name")
            self._cancel = threading.Event()
            self._status = JobStatus(request=request, epochs=config.epochs)
            self._write(self._status)
            self._thread = threading.Thread(target=self._run, args=(request, out, self._cancel),
                                            name=f"har-train-{request.name}", daemon=True)
            self._thread.start()
            return copy.deepcopy(self._status)

    def cancel(self) -> bool:
        """Ask the running job to stop after the current batch; it keeps the best weights so far."""
        with self._lock:
            if self._status is None or not self._status.running:
                return False
            self._status.cancel_requested = True
            self._status.message = "cancelling after this batch"
            self._cancel.set()
            return True

    def wait(self, timeout: float | None = None) -> JobStatus | None:
        """Block until the current job's thread ends (for tests and scripts); returns its final status."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.current()

    # ---- worker --------------------------------------------------------------------------------
    def _run(self, req: TrainRequest, out: Path, cancel: threading.Event) -> None:
        try:
            if self._trainer is None:
                from .training import train_and_save

                self._trainer = train_and_save
            result = self._trainer(
                req.data_dir, req.config, out, classes=req.classes, val_groups=req.val_groups,
                test_groups=req.test_groups, test_fraction=req.test_fraction, outlier_dirs=req.outlier_dirs,
                overwrite=False,
                cache_dir=self.cache_dir, progress=self._on_event, cancel=cancel,
                command=f"HAR Studio Train page: {req.name}")
        except HarError as exc:
            self._finish(CANCELLED if cancel.is_set() else FAILED, error=str(exc))
        except Exception as exc:  # a bug: keep the server up, show it, log the traceback
            log.exception("training job %s failed", req.name)
            self._finish(FAILED, error=f"{exc.__class__.__name__}: {exc}")
        else:
            self._finish(DONE, bundle=str(result.bundle_dir), meta=result.meta)

    def _on_event(self, event: "TrainEvent") -> None:
        with self._lock:
            s = self._status
            if s is None:
                return
            if event.kind == "stage":
                s.message = event.message
                s.batch, s.batches = event.batch, event.batches
            elif event.kind == "batch":
                s.epoch, s.epochs, s.batch, s.batches = event.epoch, event.epochs, event.batch, event.batches
                if not s.cancel_requested:
                    s.message = f"epoch {event.epoch}/{event.epochs}"
            elif event.kind == "epoch":
                s.epoch, s.epochs = event.epoch, event.epochs
                s.history.append({"epoch": event.epoch, **event.logs})
                s.message = f"finished epoch {event.epoch}/{event.epochs}"
            elif event.kind == "done":
                s.message = event.message
            s.updated_at = _now()
            if event.kind != "batch":
                self._write(s)

    def _finish(self, state: str, bundle: str | None = None, meta: dict[str, Any] | None = None,
                error: str | None = None) -> None:
        with self._lock:
            s = self._status
            assert s is not None
            s.state, s.bundle, s.meta, s.error, s.updated_at = state, bundle, meta, error, _now()
            s.message = {DONE: f"saved {Path(bundle).name}" if bundle else "done",
                         CANCELLED: "cancelled", FAILED: "failed"}[state]
            self._write(s)

    def _write(self, status: JobStatus) -> None:
        """Atomic write (temp file + rename), so a kill never leaves a half-written status. Best effort:
        a read-only weights folder must not stop training."""
        try:
            self.status_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_path.with_name(f".{STATUS_FILE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(status.to_json(), indent=1) + "\n")
            os.replace(tmp, self.status_path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.status_path, exc)
