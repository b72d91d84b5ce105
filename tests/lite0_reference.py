"""An independent EfficientNet-Lite0 in plain PyTorch functions, to check har_core.models.pretrained against.

It shares no code with the Keras model: the structure is read off the state dict itself (which blocks
expand, each depthwise kernel, channel counts), only the four downsampling blocks are stated, and the
TF-style "same" padding is written out with F.pad. Tests only: the app never imports torch.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DOWNSAMPLING_BLOCKS = {1, 3, 5, 11}  # Lite0: first block of the 24-, 40-, 80- and 192-channel stages
LITE2_DOWNSAMPLING_BLOCKS = {1, 4, 7, 15}  # Lite2: the same stages, 3, 3, 4 and 5 blocks deep before them
BN_EPS = 1e-3


def load_state(path: str) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def _same_conv(x: torch.Tensor, weight: torch.Tensor, stride: int, groups: int = 1) -> torch.Tensor:
    """TF 'SAME': output ceil(in / stride), total padding split with the extra pixel after."""
    k = weight.shape[-1]
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad lists the last dimension first
        total = max((math.ceil(size / stride) - 1) * stride + k - size, 0)
        pads += [total // 2, total - total // 2]
    return F.conv2d(F.pad(x, pads), weight, stride=stride, groups=groups)


def _bn(x: torch.Tensor, state: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    return F.batch_norm(x, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                        state[f"{prefix}.weight"], state[f"{prefix}.bias"], training=False, eps=BN_EPS)


def stem_conv(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The stem convolution's output, before its batch norm (whose statistics it should match)."""
    return _same_conv(x, state["_conv_stem.weight"], 2)


def logits(state: dict[str, torch.Tensor], frames: np.ndarray,
           downsampling: set[int] = DOWNSAMPLING_BLOCKS) -> np.ndarray:
    """ImageNet logits for uint8 RGB frames (batch, h, w, 3); `downsampling` names the stride-2 blocks."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()
    x = (x - 127.5) / 127.5
    with torch.no_grad():
        x = F.relu6(_bn(stem_conv(state, x), state, "_bn0"))
        n_blocks = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
        for i in range(n_blocks):
            p = f"_blocks.{i}"
            inputs = x
            if f"{p}._expand_conv.weight" in state:
                x = F.relu6(_bn(F.conv2d(x, state[f"{p}._expand_conv.weight"]), state, f"{p}._bn0"))
            depthwise = state[f"{p}._depthwise_conv.weight"]
            stride = 2 if i in downsampling else 1
            x = F.relu6(_bn(_same_conv(x, depthwise, stride, groups=depthwise.shape[0]), state, f"{p}._bn1"))
            x = _bn(F.conv2d(x, state[f"{p}._project_conv.weight"]), state, f"{p}._bn2")
            if stride == 1 and x.shape == inputs.shape:
                x = x + inputs
        x = F.relu6(_bn(F.conv2d(x, state["_conv_head.weight"]), state, "_bn1"))
        x = x.mean(dim=(2, 3))
        return F.linear(x, state["_fc.weight"], state["_fc.bias"]).numpy()
