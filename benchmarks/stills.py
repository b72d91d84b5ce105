"""Clips of no activity for the open-set figures: still photographs seen through a slowly panning and zooming
virtual camera (a desk, a page of text, a cat, a portrait, gravel...), one group per photograph.

People upload such videos (a screen, a view, a pet asleep) and the model should say "no known activity". The
photographs are scikit-image's sample images (`skimage.data`, installed with the test requirements).

`python -m benchmarks.stills OUT` writes `OUT/StillScene/v_StillScene_gNN_c01.avi` (UCF layout), ready for
`--outliers OUT`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "page", "text", "brick", "grass", "gravel",
          "clock", "coins", "moon", "hubble_deep_field", "colorwheel")
SIZE, FPS, SECONDS = (320, 240), 25.0, 4.0


def photo(name: str) -> np.ndarray:
    """An RGB uint8 sample image at least 360 px on its short side (grey ones made RGB)."""
    from skimage import data

    image = np.asarray(getattr(data, name)())
    image = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
    scale = max(1.0, 360 / min(image.shape[:2]))
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else image


def frames(image: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """A crop that drifts across the photograph and slowly zooms in or out, with a little sensor noise."""
    h, w = image.shape[:2]
    n = int(FPS * SECONDS)
    zoom = np.linspace(*rng.permutation([0.7, 0.9]), n)
    cx, cy = (np.linspace(*rng.uniform(0.4, 0.6, 2), n) for _ in range(2))
    out = []
    for z, x, y in zip(zoom, cx, cy):
        ch, cw = int(h * z), int(min(w, h * z * SIZE[0] / SIZE[1]))
        top, left = int((h - ch) * y), int((w - cw) * x)
        crop = cv2.resize(image[top:top + ch, left:left + cw], SIZE, interpolation=cv2.INTER_AREA)
        noise = rng.normal(0, 2, crop.shape)
        out.append(np.clip(crop + noise, 0, 255).astype(np.uint8))
    return out


def write(out: Path) -> list[Path]:
    folder = Path(out) / "StillScene"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(27)
    written = []
    for group, name in enumerate(PHOTOS, 1):
        path = folder / f"v_StillScene_g{group:02d}_c01.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
        for frame in frames(photo(name), rng):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        written.append(path)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="folder to write StillScene/ into")
    paths = write(Path(p.parse_args().out))
    print(f"{len(paths)} clips in {paths[0].parent}")


if __name__ == "__main__":
    main()
