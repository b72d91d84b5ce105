"""The body's pose: MediaPipe's BlazePose detector and landmark models on LiteRT with detect-then-track
(`blazepose`), what a sequence of keypoints says about how the arms move (`motion`), and the skeleton drawn on
frames (`skeleton`)."""
