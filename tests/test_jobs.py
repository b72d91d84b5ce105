"""The Train page's job runner: one job at a time, its status as pages read it and on disk, cancel, and
detection of a job a dead server left running."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import studio.ui  # noqa: F401  (first, as in the app: loads pylibsrtp before TensorFlow; the other order segfaults)
from har_core.errors import HarError
from har_core.learning.jobs import CANCELLED, DONE, FAILED, INTERRUPTED, JobStatus, TrainingJobs, TrainRequest
from har_core.learning.trainconfig import TrainConfig
from har_core.learning.training import TrainEvent, TrainJobResult

pytestmark = pytest.mark.slow  # trains models or starts TensorFlow in subprocesses


def request(data: Path, name: str = "m1", **kw: Any) -> TrainRequest:
    """A job's request; config fields (epochs=...) among `kw` go into its TrainConfig."""
    config = {"arch": "lrcn", "epochs": 3, "batch_size": 4, **{k: kw.pop(k) for k in list(kw)
                                                               if k in TrainConfig.__dataclass_fields__}}
    base = dict(name=name, data_dir=str(data), classes=None, val_groups=["g03"], test_groups=["g04"])
    return TrainRequest(config=TrainConfig(**config), **{**base, **kw})


class GatedTrainer:
    """A stand-in for train_and_save that emits real-shaped events and waits at a gate between epochs,
    so a test can look at a job while it runs."""

    def __init__(self, fail: Exception | None = None):
        self.gate = threading.Event()
        self.calls: list[dict[str, Any]] = []
        self.fail = fail

    def __call__(self, data_dir: str, config: TrainConfig, out: Path, **kw: Any) -> TrainJobResult:
        self.calls.append({"data_dir": data_dir, "config": config, "out": out, **kw})
        progress, epochs = kw["progress"], config.epochs
        progress(TrainEvent("stage", message="extracting clips"))
        for epoch in range(1, epochs + 1):
            progress(TrainEvent("batch", epoch, epochs, 1, 2, {"loss": 1.0}))
            assert self.gate.wait(10), "test never opened the gate"
            if self.fail:
                raise self.fail
            progress(TrainEvent("epoch", epoch, epochs, 2, 2, {"loss": 1.0 / epoch, "val_loss": 2.0 / epoch}))
        meta = {"classes": ["a", "b"], "architecture": config.arch}
        out.mkdir()
        progress(TrainEvent("done", message=f"saved {out}"))
        return TrainJobResult(out, meta, None, None)  # type: ignore[arg-type]


def on_disk(jobs: TrainingJobs) -> dict[str, Any]:
    return json.loads(jobs.status_path.read_text())


def wait_until(jobs: TrainingJobs, done: Any, timeout: float) -> JobStatus:
    """Poll the job's status, as a page does on each rerun, until `done(status)`."""
    deadline = time.monotonic() + timeout
    while True:
        status = jobs.current()
        if status is not None and done(status):
            return status
        assert time.monotonic() < deadline, f"job status never got there: {status}"
        time.sleep(0.02)


def test_one_job_at_a_time_its_progress_shows_and_status_is_written(tmp_path: Path, synth_data: Path) -> None:
    trainer = GatedTrainer()
    jobs = TrainingJobs(tmp_path / "weights", trainer=trainer)
    started = jobs.start(request(synth_data, epochs=2))
    assert started.running and started.request.name == "m1"
    with pytest.raises(HarError, match="already running"):
        jobs.start(request(synth_data, name="m2"))
    at_gate = wait_until(jobs, lambda s: s.batch == 1, 5)  # in epoch 1, waiting at the gate
    assert at_gate.running and at_gate.epoch == 1 and at_gate.epochs == 2 and at_gate.message == "epoch 1/2"
    assert at_gate.history == []
    disk = on_disk(jobs)
    assert disk["state"] == "running" and disk["pid"] == os.getpid() and disk["request"]["name"] == "m1"
    assert jobs.interrupted() is None  # running here, alive: not interrupted
    trainer.gate.set()
    final = jobs.wait(10)
    assert final is not None and final.state == DONE and final.bundle == str(jobs.registry.root / "m1")
    assert [h["epoch"] for h in final.history] == [1, 2] and final.history[1]["val_loss"] == 1.0
    assert final.message == "saved m1"
    disk = on_disk(jobs)
    assert disk["state"] == DONE and disk["epoch"] == 2 and len(disk["history"]) == 2
    assert trainer.calls[0]["overwrite"] is False and trainer.calls[0]["val_groups"] == ["g03"]
    # the page's training record reaches the trainer and last.json unchanged, and reads back the same
    assert trainer.calls[0]["config"] == started.request.config == TrainConfig("lrcn", epochs=2, batch_size=4)
    assert JobStatus.from_json(on_disk(jobs)).request == started.request
    trainer.gate.clear()
    jobs.start(request(synth_data, name="m2", epochs=1))  # the next job may start once one ended
    trainer.gate.set()
    assert jobs.wait(10).state == DONE and jobs.current().request.name == "m2"


def test_status_on_disk_follows_each_epoch(tmp_path: Path, synth_data: Path) -> None:
    trainer = GatedTrainer()
    jobs = TrainingJobs(tmp_path / "weights", trainer=trainer)
    jobs.start(request(synth_data, epochs=2))
    wait_until(jobs, lambda s: s.batch == 1, 5)
    assert on_disk(jobs)["history"] == []
    trainer.gate.set()
    jobs.wait(10)
    hist = on_disk(jobs)["history"]
    assert [h["epoch"] for h in hist] == [1, 2]


@pytest.mark.parametrize("kw, env, match", [
    ({"name": "../escape"}, {}, "not a path"),
    ({"name": "/etc/passwd"}, {}, "not a path"),
    ({"name": "taken"}, {}, "already exists"),
    ({"classes": ["Left"]}, {}, "at least two classes"),
    ({"val_groups": ["g01", "g02", "g03"], "test_groups": ["g04"]}, {}, "none left for training"),
    ({"classes": ["Left", "Nope"]}, {}, "unknown class"),
    ({"epochs": 0}, {}, "at least 1"),
    ({}, {"HAR_ALLOW_TRAINING": "0"}, "turned off"),
    ({}, {"HAR_HOSTED": "1"}, "turned off"),
])
def test_bad_requests_are_refused_before_any_work(tmp_path: Path, synth_data: Path, monkeypatch: pytest.MonkeyPatch,
                                                  kw: dict, env: dict, match: str) -> None:
    monkeypatch.delenv("HAR_ALLOW_TRAINING", raising=False)
    monkeypatch.delenv("HAR_HOSTED", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    weights = tmp_path / "weights"
    (weights / "taken").mkdir(parents=True)
    trainer = GatedTrainer()
    jobs = TrainingJobs(weights, trainer=trainer)
    with pytest.raises(HarError, match=match):
        jobs.start(request(synth_data, **kw))
    assert trainer.calls == [] and not jobs.running() and not jobs.status_path.exists()


def test_no_data_is_a_clear_error(tmp_path: Path) -> None:
    jobs = TrainingJobs(tmp_path / "weights", trainer=GatedTrainer())
    with pytest.raises(HarError, match="no data folder"):
        jobs.start(request(tmp_path / "missing"))
    (tmp_path / "empty" / "Left").mkdir(parents=True)
    with pytest.raises(HarError, match="no videos"):
        jobs.start(request(tmp_path / "empty"))


def test_a_crash_in_training_is_reported_and_the_runner_keeps_working(tmp_path: Path, synth_data: Path) -> None:
    trainer = GatedTrainer(fail=RuntimeError("disk on fire"))
    jobs = TrainingJobs(tmp_path / "weights", trainer=trainer)
    jobs.start(request(synth_data))
    trainer.gate.set()
    final = jobs.wait(10)
    assert final.state == FAILED and "disk on fire" in final.error and final.bundle is None
    assert on_disk(jobs)["state"] == FAILED
    trainer.fail = None
    jobs.start(request(synth_data, name="m2", epochs=1))
    assert jobs.wait(10).state == DONE


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_status(jobs: TrainingJobs, synth_data: Path, pid: int, state: str = "running") -> None:
    status = JobStatus(request=request(synth_data, name="lost"), state=state, pid=pid, epoch=3, epochs=10)
    jobs.status_path.parent.mkdir(parents=True, exist_ok=True)
    jobs.status_path.write_text(json.dumps(status.to_json()))


def test_a_job_left_running_by_a_dead_server_is_reported_interrupted(tmp_path: Path, synth_data: Path) -> None:
    jobs = TrainingJobs(tmp_path / "weights", trainer=GatedTrainer())
    assert jobs.interrupted() is None  # nothing ever ran
    write_status(jobs, synth_data, dead_pid())
    lost = jobs.interrupted()
    assert lost is not None and lost.state == INTERRUPTED and lost.request.name == "lost" and lost.epoch == 3
    assert on_disk(jobs)["state"] == INTERRUPTED
    again = TrainingJobs(tmp_path / "weights").interrupted()  # the next server says the same
    assert again is not None and again.request.name == "lost"
    # a restarted server may get the same pid (containers): no live job here means interrupted
    write_status(jobs, synth_data, os.getpid())
    assert TrainingJobs(tmp_path / "weights").interrupted() is not None
    # a finished job, or one another live process runs, is not interrupted
    write_status(jobs, synth_data, dead_pid(), state=DONE)
    assert jobs.interrupted() is None
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as alive:
        write_status(jobs, synth_data, alive.pid)
        assert jobs.interrupted() is None
        alive.kill()
    # a damaged status file is ignored, not a crash
    jobs.status_path.write_text("{not json")
    assert jobs.interrupted() is None


def val_loss(model: Any, paths: list[Path], labels: list[int]) -> float:
    from har_core.learning.training import predict_paths

    probs = predict_paths(model, paths)
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels])))


def test_cancel_stops_training_and_keeps_the_best_weights(tmp_path: Path, synth_data: Path) -> None:
    """Real training: cancel after the first epoch; the saved bundle holds the weights of the epoch with
    the lowest validation loss (its loss on the validation groups equals that epoch's)."""
    from har_core.datasets.dataset import extract, scan
    from har_core.models.bundle import load_bundle

    jobs = TrainingJobs(tmp_path / "weights")
    jobs.start(request(synth_data, name="cancelled", epochs=40, patience=40))
    wait_until(jobs, lambda s: len(s.history) >= 2, 300)
    assert jobs.cancel()
    final = jobs.wait(300)
    assert final.state == DONE, final.error
    training = final.meta["training"]
    assert training["cancelled"] and training["epochs_run"] < 40
    history = training["history"]
    best = min(history, key=lambda h: h["val_loss"])
    assert training["best_epoch"] == best["epoch"]
    bundle = load_bundle(final.bundle)
    index = scan(synth_data)
    val = [c for c in index.clips if c.group == "g03"]
    ex = extract(val)
    loss = val_loss(bundle.model, ex.paths, [bundle.classes.index(c.label) for c in ex.clips])
    assert loss == pytest.approx(best["val_loss"], abs=2e-3)
    assert not jobs.cancel()  # nothing left to cancel


def test_a_cancel_that_leaves_no_weights_is_reported_as_cancelled(tmp_path: Path, synth_data: Path) -> None:
    trainer = GatedTrainer(fail=HarError("training was cancelled before the first epoch finished: no weights to keep"))
    jobs = TrainingJobs(tmp_path / "weights", trainer=trainer)
    jobs.start(request(synth_data, name="early"))
    assert jobs.cancel() and jobs.current().cancel_requested
    trainer.gate.set()
    final = jobs.wait(10)
    assert final.state == CANCELLED and "no weights" in final.error and final.bundle is None
    assert on_disk(jobs)["state"] == CANCELLED
