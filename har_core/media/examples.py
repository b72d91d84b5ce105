"""The example clips shipped in examples/ (see its README): something to try before there is any data."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..config import PROJECT_DIR

EXAMPLES_DIR = PROJECT_DIR / "examples"


@dataclass(frozen=True)
class Example:
    path: Path
    label: str  # the clip's true class
    known: bool  # whether the default model was taught this class

    @property
    def title(self) -> str:
        return self.label if self.known else f"{self.label} (not a known activity)"


def examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    """The clips listed in the folder's MANIFEST.csv that are present, in its order; none without a manifest."""
    manifest = folder / "MANIFEST.csv"
    if not manifest.is_file():
        return []
    with open(manifest, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [Example(folder / r["file"], r["class"], r["known_to_default_model"] == "True") for r in rows
            if (folder / r["file"]).is_file()]
