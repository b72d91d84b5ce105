"""Prediction: a whole video, an annotated copy and a live stream (`inference`), and the webcam's frame path
(`live`)."""
