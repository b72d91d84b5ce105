"""Body keypoints from MediaPipe's BlazePose models, run on LiteRT with no MediaPipe code.

MediaPipe's pose graph, rebuilt in numpy and OpenCV (its calculators' options are quoted where they are used):
a detector finds a person (SSD anchors, the best box and its overlapping boxes averaged) and gives two
keypoints, the hips' centre and a point whose distance from it is the body's size; that makes a rotated square
region, from which the landmark model reads 33 body points (plus two more, 33 and 34, that make the next
frame's region). Detect, then track: the detector runs only when there is no region yet or the pose was lost.

Keypoints are (x, y) in the frame's pixels, z on the same scale (depth, relative to the hips), and visibility,
per point; a frame without a person has presence 0 and NaN points. The model files and where they come from are
in weights/pose/MANIFEST.json.
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..config import PROJECT_DIR
from ..errors import HarError
from ..runtime.litert import LiteModel

POSE_DIR = PROJECT_DIR / "weights" / "pose"
MANIFEST = "MANIFEST.json"
POINTS = 33  # the body points; the model's 34th and 35th only place the next frame's region
NAMES = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
         "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
         "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
         "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
         "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")
# What one frame's keypoints are flattened to for caching and heads: 33 x (x, y, z, visibility), then presence.
FRAME_DIM = POINTS * 4 + 1

DETECTOR_SIZE, LANDMARK_SIZE = 224, 256
MIN_DETECTION = 0.5  # the pose landmarker's default min_pose_detection_confidence
MIN_PRESENCE = 0.5  # ThresholdingCalculator on the pose flag
NMS_IOU = 0.3  # NonMaxSuppressionCalculator: min_suppression_threshold 0.3, WEIGHTED
ROI_SCALE = 1.25  # RectTransformationCalculator: scale 1.25, square_long


def _ssd_anchor_centres() -> np.ndarray:
    """(2254, 2) anchor centres of the detector's SsdAnchorsCalculator: 5 layers, strides 8, 16, 32, 32, 32,
    offsets 0.5, one aspect ratio plus the interpolated one, fixed anchor size (so a centre is all an anchor
    is); layers of one stride share a feature map."""
    strides = (8, 16, 32, 32, 32)
    centres, layer = [], 0
    while layer < len(strides):
        same = sum(1 for s in strides[layer:] if s == strides[layer])
        per_cell = 2 * same
        side = math.ceil(DETECTOR_SIZE / strides[layer])
        ys, xs = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer += same
    return np.concatenate(centres).astype("float32")


ANCHORS = _ssd_anchor_centres()


@dataclass(frozen=True)
class Region:
    """A rotated square of the frame, in pixels: the landmark model's view of one person."""

    cx: float
    cy: float
    size: float
    angle: float  # radians; 0 when the body is upright

    def corners(self) -> np.ndarray:
        """Top-left, top-right and bottom-left corners of the square, in frame pixels."""
        u = np.array([math.cos(self.angle), math.sin(self.angle)]) * self.size
        v = np.array([-math.sin(self.angle), math.cos(self.angle)]) * self.size
        c = np.array([self.cx, self.cy])
        return np.stack([c - u / 2 - v / 2, c + u / 2 - v / 2, c - u / 2 + v / 2]).astype("float32")

    def to_frame(self, uv: np.ndarray) -> np.ndarray:
        """Points (n, 2) in the region's unit square -> frame pixels (LandmarkProjectionCalculator)."""
        a, b = uv[:, 0] - 0.5, uv[:, 1] - 0.5
        cos, sin = math.cos(self.angle), math.sin(self.angle)
        return np.stack([self.cx + (a * cos - b * sin) * self.size, self.cy + (a * sin + b * cos) * self.size], 1)


def _aligned_region(centre: np.ndarray, towards: np.ndarray) -> Region:
    """AlignmentPointsRectsCalculator (target angle 90 degrees) then RectTransformationCalculator: a square
    centred on `centre`, twice its distance to `towards` wide, turned so that `towards` is straight up, 1.25x."""
    dx, dy = float(towards[0] - centre[0]), float(towards[1] - centre[1])
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Region(float(centre[0]), float(centre[1]), 2 * math.hypot(dx, dy) * ROI_SCALE, angle)


class PoseEstimator:
    """BlazePose detector + full landmark model on LiteRT. `track(frames)` runs MediaPipe's detect-then-track
    loop over frames in order (one person); calls are serialised (one lock)."""

    sequential = True  # for a predictor: frames in order, with the region carried between calls

    def __init__(self, folder: Path = POSE_DIR):
        manifest = read_manifest(folder)
        for part in ("detector", "landmarks"):
            path = folder / manifest[part]["file"]
            if not path.is_file() or _sha256(path) != manifest[part]["sha256"]:
                raise HarError(f"the body-pose model {path.name} is missing or changed (see {folder / MANIFEST})")
        self.detector = LiteModel(folder / manifest["detector"]["file"])
        self.landmarks = LiteModel(folder / manifest["landmarks"]["file"])
        self.lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> Region | None:
        """The most confident person's region in an RGB frame, or None."""
        h, w = rgb.shape[:2]
        scale = DETECTOR_SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        pad_x, pad_y = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)  # BORDER_ZERO: black, -1 once scaled
        canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        raw, logits = self.detector.run_all((canvas[None].astype("float32") / 127.5) - 1.0)
        scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0].astype("float64"), -100, 100)))  # sigmoid, clipped at 100
        keep = np.flatnonzero(scores >= MIN_DETECTION)
        if not len(keep):
            return None
        # TensorsToDetectionsCalculator: reverse_output_order (x first), scales 224, anchors of size 1
        boxes = raw[0, keep, :4] / DETECTOR_SIZE
        centres = boxes[:, :2] + ANCHORS[keep]
        points = raw[0, keep, 4:8].reshape(-1, 2, 2) / DETECTOR_SIZE + ANCHORS[keep][:, None]
        best = int(np.argmax(scores[keep]))
        near = _iou(centres, boxes[:, 2:], best) > NMS_IOU
        weights = scores[keep][near][:, None, None]
        pts = (points[near] * weights).sum(axis=0) / weights.sum()  # WEIGHTED suppression: overlapping boxes averaged
        pixels = (pts * DETECTOR_SIZE - [pad_x, pad_y]) / scale  # letterbox removed, in frame pixels
        return _aligned_region(pixels[0], pixels[1])

    def landmarks_in(self, rgb: np.ndarray, region: Region) -> tuple[np.ndarray, float]:
        """(35, 4) points (x, y, z in frame pixels, visibility) and the pose-present score for one region."""
        dst = np.float32([[0, 0], [LANDMARK_SIZE, 0], [0, LANDMARK_SIZE]])
        warp = cv2.getAffineTransform(region.corners(), dst)
        crop = cv2.warpAffine(rgb, warp, (LANDMARK_SIZE, LANDMARK_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out = self.landmarks.run_all(crop[None].astype("float32") / 255.0)
        raw, flag = out[0].reshape(-1, 5)[:35], float(out[1].ravel()[0])
        xy = region.to_frame(raw[:, :2] / LANDMARK_SIZE)
        z = raw[:, 2:3] * region.size / LANDMARK_SIZE
        visibility = 1 / (1 + np.exp(-np.clip(raw[:, 3:4], -50, 50)))
        return np.hstack([xy, z, visibility]).astype("float32"), flag

    def track(self, frames: np.ndarray | list[np.ndarray], state: dict | None = None) -> np.ndarray:
        """(n, FRAME_DIM) keypoints of RGB frames in order: each frame's 33 points then its presence score
        (points NaN where nobody was found). The region follows the body from frame to frame; the detector
        runs again when the pose is lost. `state` carries the region from one call to the next (a stream read
        a few frames at a time); without it each call starts by detecting."""
        out = np.full((len(frames), FRAME_DIM), np.nan, dtype="float32")
        state = {} if state is None else state
        region: Region | None = state.get("region")
        with self.lock:
            for i, rgb in enumerate(frames):
                found = None
                for attempt in range(2):  # the tracked region first; if the pose is lost there, detect again
                    if region is None or attempt == 1:
                        region = self.detect(rgb)
                        if region is None:
                            break
                    points, presence = self.landmarks_in(rgb, region)
                    if presence >= MIN_PRESENCE:
                        found = points, presence
                        break
                    region = None
                if found is None:
                    out[i, -1] = 0.0
                    region = None
                    continue
                points, presence = found
                out[i, :-1], out[i, -1] = points[:POINTS].ravel(), presence
                region = _aligned_region(points[33, :2], points[34, :2])
            state["region"] = region
        return out

    def encode(self, frames: np.ndarray, state: dict | None = None) -> np.ndarray:
        """The predictor's name for `track`: per-frame keypoints are this model's frame features."""
        return self.track(frames, state)


def _iou(centres: np.ndarray, sizes: np.ndarray, best: int) -> np.ndarray:
    lo, hi = centres - sizes / 2, centres + sizes / 2
    inter = np.clip(np.minimum(hi, hi[best]) - np.maximum(lo, lo[best]), 0, None).prod(axis=1)
    area = sizes.prod(axis=1)
    return inter / np.maximum(area + area[best] - inter, 1e-9)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_manifest(folder: Path = POSE_DIR) -> dict:
    """weights/pose/MANIFEST.json: each model file, its source wheel and path inside it, sha256 and licence."""
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        raise HarError(f"the body-pose models are missing: {folder / MANIFEST} cannot be read") from None


@lru_cache(maxsize=1)
def estimator() -> PoseEstimator:
    """The process's pose estimator (loaded once: 9 MB of models; calls are serialised)."""
    return PoseEstimator()


def points(frame: np.ndarray) -> np.ndarray:
    """(33, 4) view of one frame's flattened keypoints."""
    return frame[:-1].reshape(POINTS, 4)
