"""Where the real clips are, by one rule for the tests and the browser tests' servers: the first folder of
HAR_DATA_DIR, else ../shared/data/ucf50 beside the checkout; UCF101's extra classes lie beside it."""
from __future__ import annotations

import os
from pathlib import Path

UCF50 = Path(os.environ.get("HAR_DATA_DIR", "").split(os.pathsep)[0]
             or Path(__file__).resolve().parents[2] / "shared" / "data" / "ucf50")
UCF101_EXTRA = UCF50.parent / "ucf101_extra"


def present() -> bool:
    return (UCF50 / "HorseRace").is_dir()
