"""Re-make the example clips from ../shared/data: the first clip of group g11 of each class the default model
knows (a group it never trained on), and one Biking clip, an activity no shipped model knows; the first 6 s
of each, re-encoded to H.264 (320 px wide, CRF 30). `python examples/make.py` rewrites this folder's clips
and MANIFEST.csv.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from har_core.media.video import H264Writer, open_capture  # noqa: E402

SHARED = HERE.parents[1] / "shared" / "data"
SOURCES = [*(f"ucf101_extra/{c}/v_{c}_g11_c01.mp4" for c in (
    "Archery", "BasketballDunk", "CricketBowling", "CricketShot", "PlayingCello", "PlayingSitar", "Surfing")),
    *(f"ucf50/{c}/v_{c}_g11_c01.avi" for c in ("HorseRace", "PizzaTossing", "PlayingPiano", "PlayingViolin")),
    "ucf50/Biking/v_Biking_g06_c03.avi"]
SECONDS, WIDTH = 6.0, 320


def origin(relative: str) -> dict[str, str]:
    """The source file's row in its folder's MANIFEST.csv (repository, commit and path it was taken from)."""
    folder, rest = relative.split("/", 1)
    with open(SHARED / folder / "MANIFEST.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["file"] == rest:
                return {"source_repo": row["source_repo"], "commit": row["commit"], "source_path": row["source_path"]}
    raise SystemExit(f"{relative} is not in {folder}/MANIFEST.csv")


def reencode(source: Path, target: Path) -> tuple[int, float]:
    cap = open_capture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    ok, frame = cap.read()
    h, w = frame.shape[:2]
    size = (WIDTH, round(h * WIDTH / w / 2) * 2)
    n = 0
    with H264Writer(target, fps, *size, crf=30) as out:
        while ok and n < SECONDS * fps:
            out.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
            n += 1
            ok, frame = cap.read()
    cap.release()
    return n, fps


def main() -> None:
    rows = []
    for relative in SOURCES:
        source = SHARED / relative
        label = source.parent.name
        target = HERE / f"{source.stem}.mp4"
        frames, fps = reencode(source, target)
        known = label != "Biking"
        rows.append({"file": target.name, "class": label, "known_to_default_model": known,
                     "data": f"../shared/data/{relative}", "seconds": round(frames / fps, 2),
                     "bytes": target.stat().st_size, **origin(relative)})
        print(f"{target.name}: {frames} frames, {target.stat().st_size / 1024:.0f} KiB")
    with open(HERE / "MANIFEST.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
