"""One worker applied to many items, here in this process or on a Ray cluster.

On Ray this is Ray Data's batch-inference pattern: `map_batches` with an actor class, so each actor builds its
worker (loads its model) once and then takes batch after batch; Ray restarts actors and retries their batches
when a node is lost. A worker's outputs go to the store itself, so what comes back is one small row per item.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Iterable, Iterator

import cv2
import numpy as np

from ..errors import HarError

Row = dict[str, Any]
MAX_BLOCKS = 1000  # items are cut into at most this many blocks: small enough to balance, few enough to plan
POLL_S = 1.0  # a Ray Client asks the head for finished rows this often


def one_line(exc: BaseException) -> str:
    """A failure as one line: a HarError says it for the user already; anything else names its type."""
    text = (str(exc).strip().splitlines() or [""])[0]
    return text if isinstance(exc, HarError) else f"{exc.__class__.__name__}: {text}"


def _reason(exc: BaseException) -> str:
    """Why a Ray job failed: a worker's own one-line error (a HarError raised building an actor, say, which Ray
    wraps in its traceback), else Ray's first line."""
    said = [line.split("HarError: ", 1)[1] for line in str(exc).splitlines() if "HarError: " in line]
    return said[-1] if said else one_line(exc)


def plain(value: Any) -> Any:
    """A value from a Ray Data column (a numpy scalar) as the Python value it was."""
    return value.item() if isinstance(value, np.generic) else value


class Worker:
    """What runs on each process: subclasses load their model in `__init__` and handle one item in `one`
    (never raising: a failure is a row naming its reason, and the job goes on)."""

    def __init__(self, threads: int | None):
        if threads:  # one Ray actor per CPU: each keeps to its share, LiteRT and OpenCV alike
            os.environ["HAR_LITERT_THREADS"] = str(threads)
            cv2.setNumThreads(threads)

    def one(self, item: Row) -> Row:
        raise NotImplementedError

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        """Ray Data's call: a batch of items as columns in, one row per item as columns out."""
        rows = [self.one({k: plain(v) for k, v in zip(batch, values)}) for values in zip(*batch.values())]
        return {name: [row[name] for row in rows] for name in rows[0]} if rows else {}


def run_here(worker: Worker, items: Iterable[Row], on_row: Callable[[Row], None]) -> None:
    for item in items:
        on_row(worker.one(item))


def pipeline(worker: type[Worker], args: tuple[Any, ...], items: list[Row], workers: int) -> Iterator[Row]:
    """Ray Data's batch inference: each item through an actor pool of `workers` actors of one CPU each, built
    with `worker(*args, 1)`; rows come back as they finish (Ray Data shows its own progress meanwhile)."""
    import ray.data

    ds = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
    done = ds.map_batches(worker, fn_constructor_args=(*args, 1), batch_size=None,
                          compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1)
    for row in done.iter_rows():
        yield {k: plain(v) for k, v in row.items()}


class HeadDriver:
    """The pipeline driven from an actor on the head node, for a Ray Client (ray://), which cannot iterate a
    dataset itself: a thread runs it, and `take` hands over the rows finished since the last call."""

    def __init__(self, worker: type[Worker], args: tuple[Any, ...], items: list[Row], workers: int):
        self._rows: list[Row] = []
        self._lock = threading.Lock()
        self._finished, self._error = False, ""
        threading.Thread(target=self._run, args=(worker, args, items, workers), daemon=True).start()

    def _run(self, worker: type[Worker], args: tuple[Any, ...], items: list[Row], workers: int) -> None:
        try:
            for row in pipeline(worker, args, items, workers):
                with self._lock:
                    self._rows.append(row)
        except Exception as exc:  # noqa: BLE001  handed to the client, which raises it in one line
            self._error = _reason(exc)
        self._finished = True

    def take(self) -> tuple[list[Row], bool, str]:
        finished = self._finished  # read first: once it is set, every row is in the list
        with self._lock:
            rows, self._rows = self._rows, []
        return rows, finished, self._error


def _through_head(worker: type[Worker], args: tuple[Any, ...], items: list[Row], workers: int,
                  on_row: Callable[[Row], None]) -> None:
    import ray

    head = ray.remote(num_cpus=0, resources={"node:__internal_head__": 0.001})(HeadDriver)
    driver = head.remote(worker, args, items, workers)
    while True:
        rows, finished, error = ray.get(driver.take.remote())
        for row in rows:
            on_row(row)
        if error:
            raise HarError(f"the Ray job failed: {error}")
        if finished:
            return
        time.sleep(POLL_S)


def run_on_ray(worker: type[Worker], args: tuple[Any, ...], items: list[Row], workers: int,
               on_row: Callable[[Row], None]) -> None:
    """`pipeline` on the connected cluster, each row to `on_row`; a failure of the job itself (a worker that
    cannot start, the cluster gone) is one line."""
    import ray
    from ray.exceptions import RayError

    try:
        if ray.util.client.ray.is_connected():
            _through_head(worker, args, items, workers, on_row)
        else:
            for row in pipeline(worker, args, items, workers):
                on_row(row)
    except RayError as exc:
        raise HarError(f"the Ray job failed: {_reason(exc)}") from None
