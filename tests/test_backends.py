"""A bundle saved with the TensorFlow backend runs under another Keras backend (how GPU prediction can be
checked on a machine that has PyTorch or JAX but no TensorFlow build)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from har_core.models.bundle import load_bundle
from har_core.prediction.inference import classify

pytestmark = pytest.mark.slow  # starts TensorFlow and PyTorch in a subprocess

SCRIPT = """
import json, sys
from har_core.models.bundle import load_bundle
from har_core.prediction.inference import annotate, classify
b = load_bundle(sys.argv[1], runtime="keras")
pred, _ = classify(b, sys.argv[2])
ann = annotate(b, sys.argv[2], sys.argv[3])
import keras
print(json.dumps({"backend": keras.backend.backend(), "probs": pred.probs, "label": ann.prediction.label,
                  "device": b.predictor.device, "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def test_bundle_runs_under_torch_backend_without_tensorflow(synth_bundle, right_video, tmp_path):
    pytest.importorskip("torch")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(synth_bundle), str(right_video), str(tmp_path / "o.mp4")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "torch" and not out["tensorflow_imported"]
    assert out["device"].endswith("(Keras, torch)") and out["label"] == "Right"
    tf_probs = classify(load_bundle(synth_bundle, runtime="keras"), right_video)[0].probs
    assert np.allclose(out["probs"], tf_probs, atol=1e-4)
