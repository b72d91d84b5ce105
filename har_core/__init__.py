"""har_core: the recognition engine behind HAR Studio (data, models, training, inference, download).

Submodules are imported on demand so that light users (the app's home page, `info`) never load Keras.
"""
from .errors import HarError

__all__ = ["HarError"]
