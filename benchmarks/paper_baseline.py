"""The paper's procedure, re-implemented faithfully (../shared/docs/paper-method.md), flaws included.

This is the baseline each benchmark row compares against; the app never uses it. Two deliberate
deviations, both in the baseline's favour or needed to share our weights, are marked where they occur:
`model.predict(..., verbose=0)` (no progress bar printed per frame), and an optional BGR→RGB conversion so
that our RGB-trained weights see the colours they were trained on.
"""
from __future__ import annotations

import math
import os
from collections import deque
from pathlib import Path
from typing import Any

import cv2
import numpy as np

IMAGE_HEIGHT, IMAGE_WIDTH = 64, 64
SEQUENCE_LENGTH = 20
SEED = 27


def frames_extraction(video_path: str | os.PathLike) -> list[np.ndarray]:
    """20 frames by seeking with CAP_PROP_POS_FRAMES to i * (count // 20); resized, /255 (float64, BGR)."""
    frames_list = []
    video_reader = cv2.VideoCapture(str(video_path))
    video_frames_count = int(video_reader.get(cv2.CAP_PROP_FRAME_COUNT))
    skip_frames_window = max(int(video_frames_count / SEQUENCE_LENGTH), 1)
    for frame_counter in range(SEQUENCE_LENGTH):
        video_reader.set(cv2.CAP_PROP_POS_FRAMES, frame_counter * skip_frames_window)
        success, frame = video_reader.read()
        if not success:
            break
        resized_frame = cv2.resize(frame, (IMAGE_HEIGHT, IMAGE_WIDTH))
        normalized_frame = resized_frame / 255
        frames_list.append(normalized_frame)
    video_reader.release()
    return frames_list


def create_dataset(root: str | os.PathLike, classes: list[str],
                   per_class: int | None = None) -> tuple[np.ndarray, np.ndarray, list[Path]]:
    """Every clip of every class in one float64 array; clips that do not give 20 frames vanish silently.

    `per_class` keeps only the first files of each class (the benchmark's --quick mode); listing is sorted
    so both paths see the same clips.
    """
    features, labels, video_files_paths = [], [], []
    for class_index, class_name in enumerate(classes):
        files_list = sorted(os.listdir(Path(root) / class_name))[:per_class]
        for file_name in files_list:
            video_file_path = Path(root) / class_name / file_name
            frames = frames_extraction(video_file_path)
            if len(frames) == SEQUENCE_LENGTH:
                features.append(frames)
                labels.append(class_index)
                video_files_paths.append(video_file_path)
    return np.asarray(features), np.array(labels), video_files_paths


def train_test_split(*arrays: np.ndarray, test_size: float = 0.25,
                     random_state: int = SEED) -> list[np.ndarray]:
    """scikit-learn's train_test_split(shuffle=True) index for index (ShuffleSplit), which is not installed.

    Fancy indexing copies, as scikit-learn's does.
    """
    n = len(arrays[0])
    n_test = math.ceil(test_size * n)
    perm = np.random.RandomState(random_state).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return [part for a in arrays for part in (a[train], a[test])]


def float_model(model: Any) -> Any:
    """The paper's network, taking float frames in [0, 1]: our model minus its Rescaling layer, same weights."""
    import keras

    layers = [l for l in model.layers if not isinstance(l, (keras.layers.InputLayer, keras.layers.Rescaling))]
    x = inp = keras.Input(shape=model.input_shape[1:], dtype="float32")
    for layer in layers:
        x = layer(x)
    return keras.Model(inp, x)


def predict_on_video(model: Any, classes: list[str], video_file_path: str | os.PathLike,
                     output_file_path: str | os.PathLike, rgb: bool = True) -> list[int | None]:
    """The paper's predict_on_video: a deque of 20 consecutive frames, `model.predict` on every frame once
    it is full, the class name drawn in green, written with OpenCV's 'mp4v'. Returns each frame's label
    index (None while the deque fills). `rgb` converts colour for our RGB-trained weights (deviation)."""
    video_reader = cv2.VideoCapture(str(video_file_path))
    original_video_width = int(video_reader.get(cv2.CAP_PROP_FRAME_WIDTH))
    original_video_height = int(video_reader.get(cv2.CAP_PROP_FRAME_HEIGHT))
    video_writer = cv2.VideoWriter(str(output_file_path), cv2.VideoWriter_fourcc("m", "p", "4", "v"),
                                   video_reader.get(cv2.CAP_PROP_FPS), (original_video_width, original_video_height))
    frames_queue: deque[np.ndarray] = deque(maxlen=SEQUENCE_LENGTH)
    predicted_class_name = ""
    predicted_label: int | None = None
    labels: list[int | None] = []
    while video_reader.isOpened():
        ok, frame = video_reader.read()
        if not ok:
            break
        resized_frame = cv2.resize(frame, (IMAGE_HEIGHT, IMAGE_WIDTH))
        if rgb:
            resized_frame = cv2.cvtColor(resized_frame, cv2.COLOR_BGR2RGB)
        normalized_frame = resized_frame / 255
        frames_queue.append(normalized_frame)
        if len(frames_queue) == SEQUENCE_LENGTH:
            predicted_labels_probabilities = model.predict(np.expand_dims(frames_queue, axis=0), verbose=0)[0]
            predicted_label = int(np.argmax(predicted_labels_probabilities))
            predicted_class_name = classes[predicted_label]
        cv2.putText(frame, predicted_class_name, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 255, 0), 2)
        video_writer.write(frame)
        labels.append(predicted_label)
    video_reader.release()
    video_writer.release()
    return labels


class PaperStream:
    """predict_on_video's loop applied to a live stream: all of it runs in the frame callback."""

    def __init__(self, model: Any, rgb: bool = True):
        self.model, self.rgb = model, rgb
        self.frames_queue: deque[np.ndarray] = deque(maxlen=SEQUENCE_LENGTH)
        self.label: int | None = None

    def process(self, frame: np.ndarray) -> int | None:
        resized_frame = cv2.resize(frame, (IMAGE_HEIGHT, IMAGE_WIDTH))
        if self.rgb:
            resized_frame = cv2.cvtColor(resized_frame, cv2.COLOR_BGR2RGB)
        self.frames_queue.append(resized_frame / 255)
        if len(self.frames_queue) == SEQUENCE_LENGTH:
            probs = self.model.predict(np.expand_dims(self.frames_queue, axis=0), verbose=0)[0]
            self.label = int(np.argmax(probs))
        return self.label
