"""Paper-faithful architectures: layer structure and parameter counts; uint8 in, softmax out."""
import ast
from pathlib import Path

import numpy as np
import pytest

from har_core.errors import HarError
from har_core.models.builders import build


@pytest.mark.parametrize("arch, params", [("convlstm", 44_524), ("lrcn", 73_060)])
def test_parameter_counts_equal_the_papers(arch, params):
    assert build(arch, 4).count_params() == params


def test_convlstm_layers_and_shapes_match_the_paper():
    import keras

    m = build("convlstm", 4)
    convs = [l for l in m.layers if isinstance(l, keras.layers.ConvLSTM2D)]
    assert [c.filters for c in convs] == [4, 8, 14, 16]
    assert all(c.recurrent_dropout == 0.2 and c.return_sequences for c in convs)
    flat = next(l for l in m.layers if isinstance(l, keras.layers.Flatten))
    assert flat.output.shape[-1] == 2880


def test_lrcn_layers_match_the_paper():
    import keras

    m = build("lrcn", 4)
    convs = [l.layer for l in m.layers if isinstance(l, keras.layers.TimeDistributed)
             and isinstance(l.layer, keras.layers.Conv2D)]
    pools = [l.layer.pool_size for l in m.layers if isinstance(l, keras.layers.TimeDistributed)
             and isinstance(l.layer, keras.layers.MaxPooling2D)]
    assert [c.filters for c in convs] == [16, 32, 64, 64]
    assert pools == [(4, 4), (4, 4), (2, 2), (2, 2)]
    assert next(l for l in m.layers if isinstance(l, keras.layers.LSTM)).units == 32


def test_time_distributed_runs_its_layer_once_over_all_frames_with_the_per_frame_values():
    """har_core.quiet folds time into the batch (Keras 3 would call the layer once per frame: 20 copies of the
    LRCN's CNN to trace); the values stay those of the layer applied to each frame on its own."""
    from har_core.quiet import keras

    calls = []

    class Counted(keras.layers.Dense):
        def call(self, inputs):  # noqa: ANN001, ANN202
            calls.append(inputs.shape)
            return super().call(inputs)

    keras.layers.TimeDistributed(Counted(2))(np.zeros((4, 5, 3), np.float32))
    assert [tuple(shape) for shape in calls] == [(20, 3)]

    m = build("lrcn", 3)
    per_frame = [l for l in m.layers if isinstance(l, keras.layers.TimeDistributed)]
    x = np.random.default_rng(0).integers(0, 256, (2, 20, 64, 64, 3), dtype=np.uint8)
    folded = np.asarray(keras.Model(m.inputs, per_frame[-1].output).predict_on_batch(x))
    frames = []
    for t in range(20):
        y = m.get_layer("rescale")(x[:, t])
        for layer in per_frame:
            y = layer.layer(y, training=False) if layer.layer._call_has_training_arg else layer.layer(y)
        frames.append(np.asarray(y))
    np.testing.assert_allclose(folded, np.stack(frames, axis=1), rtol=1e-5, atol=1e-6)


def test_models_take_uint8_and_rescale_inside():
    m = build("lrcn", 3)
    assert m.inputs[0].dtype == "uint8"
    out = np.asarray(m.predict_on_batch(np.full((2, 20, 64, 64, 3), 255, np.uint8)))
    assert out.shape == (2, 3) and np.allclose(out.sum(axis=1), 1, atol=1e-5)


def test_unknown_architecture():
    with pytest.raises(HarError, match="unknown architecture"):
        build("resnet", 4)


def test_model_and_inference_code_use_keras_only():
    """The Keras path must run under any Keras backend: TensorFlow is imported only to ask the TensorFlow
    backend which device it uses, to read a SavedModel's files (TensorFlow's own formats) on import, and to
    convert a model to LiteRT when a bundle is saved."""
    root = Path(__file__).resolve().parents[1] / "har_core"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "tensorflow" for n in names):
                assert path.name in ("device.py", "importer.py", "export.py"), f"{path.name} imports tensorflow"
