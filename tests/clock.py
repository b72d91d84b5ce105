"""Time for tests that must not depend on how busy the machine is: a clock the test advances by hand, and a
wait for a state another thread reaches (bounded, so a bug fails instead of hanging)."""
from __future__ import annotations

import time
from typing import Callable


class ManualClock:
    """A monotonic clock that moves only when `advance` is called; pass it as a `clock=` argument."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "the condition") -> None:
    """Poll `condition` until it holds; fail after `timeout_s` (a ceiling for a broken build, not a window)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(0.02)
