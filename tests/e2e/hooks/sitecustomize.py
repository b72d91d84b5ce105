"""Holds for a browser test's server, loaded at its start (AppServer(..., hooks=...) puts this folder first on
PYTHONPATH): work waits at a point the test controls, so the test synchronises on that point, never on how
long the work takes. Each hold is on only when its variable is set.

HAR_E2E_ANNOTATE_BARRIER=N   each annotate waits until N are under way at once (up to 2 minutes, then all fail)
                             (N sessions predicting together, however fast each one is)
HAR_E2E_EPOCH_GATES=DIR      a training job waits after epoch k until the file DIR/k exists (a job
                             still running, with a known number of epochs, whenever the test looks)
"""
from __future__ import annotations

import os
import threading
import time
from functools import wraps
from pathlib import Path
from typing import Any

if barrier_size := os.environ.get("HAR_E2E_ANNOTATE_BARRIER"):
    from har_core.prediction import inference

    _barrier = threading.Barrier(int(barrier_size), timeout=120)
    _annotate = inference.annotate

    @wraps(_annotate)
    def _annotate_together(*args: Any, **kwargs: Any) -> Any:
        _barrier.wait()
        return _annotate(*args, **kwargs)

    inference.annotate = _annotate_together

if gates := os.environ.get("HAR_E2E_EPOCH_GATES"):
    from har_core.learning.jobs import TrainingJobs

    _on_event = TrainingJobs._on_event

    def _on_event_gated(self: TrainingJobs, event: Any) -> None:
        _on_event(self, event)
        if event.kind == "epoch":
            gate, deadline = Path(gates) / str(event.epoch), time.monotonic() + 600
            while not gate.exists() and time.monotonic() < deadline:  # the test opens it; the deadline only
                time.sleep(0.05)                                       # keeps a broken test from hanging

    TrainingJobs._on_event = _on_event_gated
