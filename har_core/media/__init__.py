"""Where a video comes from and how it is read: decoding and the model's frame format (`video`), which frames
form a clip (`sampling`), drawing on frames (`overlay`), uploads, links (`download`), webcam takes (`takes`) and
the shipped example clips (`examples`). Imports nothing of har_core above config, errors and quiet."""
