"""Datasets of clips: the UCF50 layout and the uint8 clip cache (`dataset`), group splits (`splits`), training
augmentation (`augment`), browsing (`browse`), UCF's class lists and archive (`ucf_classes`, `ucf50`), and
`sources`, the one place pages and the CLI take a video from. Built on `har_core.media`."""
