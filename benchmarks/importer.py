"""Import speed (issue: bring your own model): how long `python -m har_core import` takes on a 1 MB model.

`python -m benchmarks.importer` builds the tutorial's LRCN with an LSTM of 256 units (1.5 MB as an .h5, more
than the issue's 1 MB; the tutorial's own is 0.3 MB) in tf.keras 2 (the tf-keras package of
requirements-test.txt), saves it as a legacy .h5 and as a SavedModel folder, and times, in the same run:
- the whole `python -m har_core import` process, cold (TensorFlow's import included): the issue's target;
- a process that only imports Keras and exits: the baseline, so that the ratio says what importing adds.
It prints figures and writes benchmarks/importer.json.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "importer.json"
TARGET_S = 5.0
CLASSES = ["HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin"]


def one_mb_lrcn(folder: Path) -> dict[str, Path]:
    """The tutorial's LRCN (tests/test_import.py), LSTM(256), saved the two ways tf.keras 2 saves it."""
    sys.path.insert(0, str(ROOT / "tests"))
    import tf_keras
    from test_import import tutorial_lrcn

    config = tutorial_lrcn(classes=len(CLASSES)).get_config()
    for entry in config["layers"]:
        if entry["class_name"] == "LSTM":
            entry["config"]["units"] = 256
    model = tf_keras.Sequential.from_config(config)
    model.save(folder / "LRCN_model___Loss_0.37___Accuracy_0.918.h5")
    model.save(folder / "lrcn_savedmodel")
    return {"h5": folder / "LRCN_model___Loss_0.37___Accuracy_0.918.h5", "savedmodel": folder / "lrcn_savedmodel"}


def size_mb(p: Path) -> float:
    return (sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size) / 2**20


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="har-bench-import-") as tmp:
        sources = one_mb_lrcn(Path(tmp))
        baseline = min(timed([sys.executable, "-c", "from har_core.quiet import keras"]) for _ in range(3))
        rows = {}
        for fmt, src in sources.items():
            runs = [timed([sys.executable, "-m", "har_core", "import", str(src), "--out", f"{tmp}/{fmt}{i}",
                           "--classes", *CLASSES]) for i in range(3)]
            rows[fmt] = {"mb": round(size_mb(src), 2), "seconds": round(min(runs), 2),
                         "seconds_all": [round(r, 2) for r in runs],
                         "ratio_to_keras_import": round(min(runs) / baseline, 2)}
            print(f"{fmt:>10}: {rows[fmt]['mb']} MB imported in {rows[fmt]['seconds']} s (best of 3; "
                  f"{rows[fmt]['ratio_to_keras_import']}x a process that only imports Keras, {baseline:.2f} s)")
    result = {"keras_import_seconds": round(baseline, 2), "imports": rows, "target_seconds": TARGET_S,
              "met": all(r["seconds"] <= TARGET_S for r in rows.values())}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
