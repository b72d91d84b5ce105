"""Drawing the predicted label and confidence on a frame."""
from __future__ import annotations

import cv2
import numpy as np


def draw_label(bgr: np.ndarray, label: str, confidence: float, extra: str = "") -> np.ndarray:
    """Draw 'label 93%' on a dark band at the top-left, scaled to the frame; modifies and returns `bgr`."""
    h, w = bgr.shape[:2]
    scale = max(0.4, w / 640)
    thick = max(1, int(round(scale * 2)))
    text = f"{label} {confidence * 100:.0f}%" + (f"  {extra}" if extra else "")
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = int(6 * scale)
    cv2.rectangle(bgr, (0, 0), (min(w, tw + 2 * pad), th + base + 2 * pad), (0, 0, 0), thickness=-1)
    colour = (0, 220, 0) if confidence >= 0.6 else (0, 200, 255)
    cv2.putText(bgr, text, (pad, th + pad), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)
    return bgr
