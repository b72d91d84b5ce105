"""The bundles under weights/: listed cheaply, loaded once per process, never outside weights/.

Pages keep one registry per process (st.cache_resource); a model is reloaded only when its files change.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..config import settings
from ..errors import HarError
from .bundle import META_FILE, BundleListing, ModelBundle, check_name, list_bundles, load_bundle


class ModelRegistry:
    def __init__(self, weights_dir: str | os.PathLike):
        self.root = Path(weights_dir).resolve()
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[tuple[tuple[str, int], ...], ModelBundle]] = {}

    def listings(self) -> list[BundleListing]:
        """Every bundle folder; broken ones carry an error instead of metadata."""
        return list_bundles(self.root)

    def usable(self) -> list[BundleListing]:
        return [b for b in self.listings() if b.error is None]

    def path_for(self, name: str) -> Path:
        """The folder of bundle `name`, refusing anything that is not a plain name inside weights/."""
        path = (self.root / check_name(name)).resolve()
        if path.parent != self.root:
            raise HarError("a model name cannot point outside the weights folder")
        return path

    def _stamp(self, path: Path) -> tuple[tuple[str, int], ...]:
        """What changes when a bundle is saved again: its files' names and modification times (model.json is
        always there; model.keras, head.npz or .tflite files, whichever the bundle holds)."""
        if not (path / META_FILE).is_file():
            raise HarError(f"no model named {path.name!r}")
        return tuple(sorted((f.name, f.stat().st_mtime_ns) for f in path.iterdir() if f.is_file()))

    def load(self, name: str) -> ModelBundle:
        """The loaded bundle `name`, shared by every session of this process."""
        path = self.path_for(name)
        with self._lock:
            stamp = self._stamp(path)
            hit = self._loaded.get(name)
            if hit and hit[0] == stamp:
                return hit[1]
            bundle = load_bundle(path)
            self._loaded[name] = (stamp, bundle)
            return bundle


def accuracy_of(entry: dict[str, Any]) -> float | None:
    """The headline accuracy of one metrics entry (plain runs say 'accuracy', cross-validation 'mean')."""
    for key in ("accuracy", "mean"):
        value = entry.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def ranking_accuracy(meta: dict[str, Any]) -> float:
    """What chooses the default model, in the CLI and the app alike: the k-fold mean over groups when one
    was measured (it averages several held-out splits), else test, else validation accuracy; -1 if none."""
    metrics = meta.get("metrics") or {}
    for name in ("crossval", "test", "validation"):
        entry = metrics.get(name)
        if isinstance(entry, dict) and accuracy_of(entry) is not None:
            return float(accuracy_of(entry))
    return -1.0


GOOD_ENOUGH = 0.90  # a model measured at least this accurate may be the default; then more activities win


def preference(meta: dict[str, Any]) -> tuple[bool, int, float]:
    """How bundles are ordered, the default first, in the CLI and the app alike: a model measured at 90% or
    better before one that is not, then the one that knows more activities (99% on four is a smaller demo than
    95% on eleven), then the better ranking accuracy."""
    accuracy = ranking_accuracy(meta)
    return accuracy >= GOOD_ENOUGH, len(meta.get("classes") or []), accuracy


def ranked(listings: list[BundleListing]) -> list[BundleListing]:
    """The usable bundles in the one order of every model list, menu and table: `preference` first, ties in
    the order given (by name, from list_bundles); so the first is the default."""
    return sorted((b for b in listings if b.error is None), key=lambda b: preference(b.meta or {}), reverse=True)


def default_model_dir() -> Path:
    """The default model: the bundle under the configured weights folder that `preference` puts first (the
    same rule that picks the app's first menu entry)."""
    return default_bundle(settings().weights_dir)


def default_bundle(weights_dir: str | os.PathLike) -> Path:
    """The usable bundle that comes first by `preference` (ties: the first by name)."""
    usable = ranked(list_bundles(weights_dir))
    if not usable:
        raise HarError(f"no usable model bundle in {weights_dir}: train one or pass --model")
    return usable[0].path
