"""The body's skeleton drawn on a frame: what a body-pose model reads, shown to the person it reads."""
from __future__ import annotations

import cv2
import numpy as np

from .blazepose import points

# Bones between BlazePose's points: face outline left out, arms (what the gesture head reads) drawn thicker.
ARMS = ((11, 13), (13, 15), (12, 14), (14, 16), (15, 19), (16, 20))
BODY = ((11, 12), (11, 23), (12, 24), (23, 24), (23, 25), (25, 27), (24, 26), (26, 28), (0, 11), (0, 12))
VISIBLE = 0.5


def draw_skeleton(bgr: np.ndarray, frame_keypoints: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Draw one frame's keypoints (blazepose.FRAME_DIM, in the pixels of the frame they were found in, `scale`
    times smaller than `bgr`) on `bgr`; nothing when nobody was found. Modifies and returns `bgr`."""
    if frame_keypoints[-1] < 0.5:
        return bgr
    p = points(frame_keypoints)
    xy, seen = np.round(p[:, :2] * scale).astype(int), p[:, 3] >= VISIBLE
    thick = max(1, round(bgr.shape[1] / 320))
    for bones, colour, width in ((BODY, (255, 200, 0), thick), (ARMS, (0, 220, 255), 2 * thick)):
        for a, b in bones:
            if seen[a] and seen[b]:
                cv2.line(bgr, tuple(xy[a]), tuple(xy[b]), colour, width, cv2.LINE_AA)
    for i in {i for bone in ARMS + BODY for i in bone}:
        if seen[i]:
            cv2.circle(bgr, tuple(xy[i]), 2 * thick, (255, 255, 255), -1, cv2.LINE_AA)
    return bgr
