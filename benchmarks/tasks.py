"""Work that runs in a child process of its own, so its peak memory (ru_maxrss, the peak resident set
of that process alone) measures that work and nothing else.

`python -m benchmarks.tasks NAME ARGS.json` runs one task and prints one JSON object on the last line of
stdout. Each `*_base` task loads what its partners load and does no work: its peak is the baseline that
`net` figures subtract, so memory ratios compare the data each path holds, not the cost of importing it.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _clips(root: str, classes: list[str], per_class: int | None) -> list:
    from har_core.datasets.dataset import scan

    by_class = scan(root).select(classes).by_class()
    return [c for label in classes for c in by_class[label][:per_class]]


def extract_base(a: dict[str, Any]) -> dict[str, Any]:
    import benchmarks.paper_baseline  # noqa: F401  (cv2, numpy)
    import har_core.datasets.dataset  # noqa: F401

    return {}


def extract_paper(a: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.paper_baseline import create_dataset

    start = time.perf_counter()
    features, labels, paths = create_dataset(a["root"], a["classes"], a["per_class"])
    return {"seconds": time.perf_counter() - start, "clips": len(paths), "dtype": str(features.dtype),
            "array_mb": features.nbytes / 2**20}


def extract_ours(a: dict[str, Any]) -> dict[str, Any]:
    from har_core.datasets.dataset import extract

    clips = _clips(a["root"], a["classes"], a["per_class"])
    with tempfile.TemporaryDirectory(prefix="har-bench-cache-") as cache:
        start = time.perf_counter()
        ex = extract(clips, cache)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "clips": len(ex.clips), "failed": len(ex.failed), "short": len(ex.short),
            "dtype": "uint8 (npz cache on disk)"}


def _split(n: int, seed: int) -> tuple[list[int], list[int]]:
    """The paper's clip split: train_test_split 75/25, then fit's validation_split=0.2 (last 20% of train)."""
    import math

    import numpy as np

    from benchmarks.paper_baseline import train_test_split

    train_idx, _ = train_test_split(np.arange(n), test_size=0.25, random_state=seed)
    cut = int(math.ceil(len(train_idx) * 0.8))
    return train_idx[:cut].tolist(), train_idx[cut:].tolist()


def train_base(a: dict[str, Any]) -> dict[str, Any]:
    """Keras loaded, the model built and compiled, one step fitted and validated on four clips: the cost of
    training at all (both the training and the evaluation functions traced), with no dataset held."""
    import keras
    import numpy as np

    from har_core.models.builders import build

    model = build(a["arch"], len(a["classes"]))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = np.zeros((4, *model.input_shape[1:]), dtype="uint8")
    y = np.zeros(4, dtype="int32")
    model.fit(x, y, validation_data=(x, y), epochs=1, batch_size=4, verbose=0)
    return {"keras": keras.__version__}


def train_paper(a: dict[str, Any]) -> dict[str, Any]:
    """The paper's training: all clips as one float64 array (/255), one-hot labels, split, model.fit.

    The array is filled from the uint8 cache, not by decoding again: same shape, dtype and values as
    create_dataset gives (colour order aside), without re-timing extraction.
    """
    import keras
    import numpy as np

    from benchmarks.paper_baseline import float_model, train_test_split
    from har_core.datasets.dataset import load_cached
    from har_core.models.builders import build

    features = np.asarray([load_cached(Path(p)) / 255 for p in a["paths"]])
    one_hot = keras.utils.to_categorical(np.array(a["labels"]), len(a["classes"]))
    features_train, features_test, labels_train, labels_test = train_test_split(
        features, one_hot, test_size=0.25, random_state=a["seed"])
    keras.utils.set_random_seed(a["seed"])
    model = float_model(build(a["arch"], len(a["classes"])))
    model.compile(loss="categorical_crossentropy", optimizer="Adam", metrics=["accuracy"])
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=15, mode="min",
                                                   restore_best_weights=True)
    start = time.perf_counter()
    hist = model.fit(x=features_train, y=labels_train, epochs=1, batch_size=4, shuffle=True,
                     validation_split=0.2, callbacks=[early_stopping], verbose=0)
    return {"seconds": time.perf_counter() - start, "train": len(_split(len(features), a["seed"])[0]),
            "array_mb": (features.nbytes + features_train.nbytes + features_test.nbytes) / 2**20,
            "loss": float(hist.history["loss"][0])}


def train_ours(a: dict[str, Any]) -> dict[str, Any]:
    """Our pipeline on the same clips and the same split: uint8 batches streamed from the cache."""
    from har_core.learning.trainconfig import TrainConfig
    from har_core.learning.training import train

    tr, va = _split(len(a["paths"]), a["seed"])
    paths, labels = [Path(p) for p in a["paths"]], a["labels"]
    res = train(TrainConfig(a["arch"], epochs=1, batch_size=4, seed=a["seed"]), a["classes"],
                ([paths[i] for i in tr], [labels[i] for i in tr]), ([paths[i] for i in va], [labels[i] for i in va]))
    return {"seconds": res.seconds, "train": len(tr), "loss": float(res.history[0]["loss"])}


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    f.__name__: f for f in (extract_base, extract_paper, extract_ours, train_base, train_paper, train_ours)}


if __name__ == "__main__":
    name, args_file = sys.argv[1], sys.argv[2]
    import resource

    result = TASKS[name](json.loads(Path(args_file).read_text()))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps(result))
