"""A job's count as its rows come back: a line on stderr every 100 items, and the closing figures (counts,
every failure named with its reason, throughput) that `--json` prints."""
from __future__ import annotations

import time
from typing import Any, Callable

from .runner import Row

EVERY = 100


class Tally:
    """Rows by item (a retried item counts once: its last row wins), in the order items were planned."""

    def __init__(self, items: list[str], noun: str, say: Callable[[str], None]):
        self.order, self.noun, self.say = items, noun, say
        self.rows: dict[str, Row] = {}
        self.start = time.perf_counter()

    def add(self, row: Row) -> None:
        first = row["video"] not in self.rows
        self.rows[row["video"]] = row
        n = len(self.rows)
        if first and (n % EVERY == 0 or n == len(self.order)):
            self.say(f"{self.noun}: {n}/{len(self.order)} ({self._counts_text()}), {self.rate():.2f}/s")

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows.values())

    def rate(self) -> float:
        """Items worked on (not those found done) per second since the job began."""
        worked = len(self.rows) - self.count("skipped")
        return worked / max(1e-9, time.perf_counter() - self.start)

    def _counts_text(self) -> str:
        return ", ".join(f"{self.count(s)} {s}" for s in ("done", "skipped", "failed") if self.count(s))

    def ordered(self) -> list[Row]:
        return [self.rows[v] for v in self.order if v in self.rows]

    def report(self) -> dict[str, Any]:
        seconds = time.perf_counter() - self.start
        return {self.noun: len(self.order), "done": self.count("done"), "skipped": self.count("skipped"),
                "failed": [{"video": r["video"], "reason": r["reason"]} for r in self.ordered()
                           if r["status"] == "failed"],
                "missing": [v for v in self.order if v not in self.rows], "seconds": round(seconds, 2),
                "per_second": round(self.rate(), 3)}
