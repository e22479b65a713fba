"""LPIPS (Zhang et al. 2018, v0.1) written in plain torch, with weights from local files.

Features: the activations of a frozen ImageNet backbone at five depths (VGG16 relu1_2, relu2_2,
relu3_3, relu4_3, relu5_3; or AlexNet relu1..relu5), each unit-normalised over channels; the
squared differences are weighted per channel by the learned 1x1 "lin" layers, averaged over space
and summed over depths. Inputs go through the fixed "scaling layer" first.

Weights (never downloaded) come from one or two local files:
- the lin layers: the `lpips` package's `lpips/weights/v0.1/vgg.pth` (or `alex.pth`), keys
  `lin{k}.model.1.weight`; taming-transformers' `vgg.pth` is the same file;
- the backbone: torchvision's ImageNet weights (`vgg16-397923af.pth`, `alexnet-owt-7be5be79.pth`),
  keys `features.{i}.weight`; or a full `lpips.LPIPS` state dict (`net.slice{k}.{i}.weight`),
  which holds both, so one file suffices. The official Reducio `.ckpt` also holds a full LPIPS
  under `loss.perceptual_loss.`, which is accepted.

The Reducio release logs LPIPS on [0, 1] images (docs/architecture.md §7.15); here inputs are in
[-1, 1], the range LPIPS was trained for.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from einops import rearrange

from reducio.errors import ConfigError
from reducio.eval._weights import check_and_load, load_weights_file
from reducio.eval.reconstruction import as_video_batch

# (torchvision `features` index ranges of the five slices, channels at each slice's output)
_VGG16_LAYERS = (
    ("conv", 3, 64), ("relu",), ("conv", 64, 64), ("relu",), ("pool",),
    ("conv", 64, 128), ("relu",), ("conv", 128, 128), ("relu",), ("pool",),
    ("conv", 128, 256), ("relu",), ("conv", 256, 256), ("relu",), ("conv", 256, 256), ("relu",), ("pool",),
    ("conv", 256, 512), ("relu",), ("conv", 512, 512), ("relu",), ("conv", 512, 512), ("relu",), ("pool",),
    ("conv", 512, 512), ("relu",), ("conv", 512, 512), ("relu",), ("conv", 512, 512), ("relu",),
)  # fmt: skip
_VGG16_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))
_ALEX_LAYERS = (
    ("conv", 3, 64, 11, 4, 2), ("relu",), ("pool3",),
    ("conv", 64, 192, 5, 1, 2), ("relu",), ("pool3",),
    ("conv", 192, 384, 3, 1, 1), ("relu",),
    ("conv", 384, 256, 3, 1, 1), ("relu",),
    ("conv", 256, 256, 3, 1, 1), ("relu",),
)  # fmt: skip
_ALEX_SLICES = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))
NETS = {
    "vgg": (_VGG16_LAYERS, _VGG16_SLICES, (64, 128, 256, 512, 512)),
    "alex": (_ALEX_LAYERS, _ALEX_SLICES, (64, 192, 384, 256, 256)),
}
_SOURCES = {
    "vgg": (
        "the lpips package's lpips/weights/v0.1/vgg.pth (github.com/richzhang/PerceptualSimilarity)",
        "torchvision's vgg16-397923af.pth (download.pytorch.org/models/vgg16-397923af.pth)",
    ),
    "alex": (
        "the lpips package's lpips/weights/v0.1/alex.pth (github.com/richzhang/PerceptualSimilarity)",
        "torchvision's alexnet-owt-7be5be79.pth (download.pytorch.org/models/alexnet-owt-7be5be79.pth)",
    ),
}
# Prefixes under which other code stores an LPIPS module (taming's loss inside the release .ckpt).
_STRIP_PREFIXES = ("loss.perceptual_loss.", "perceptual_loss.", "lpips.")


def _make_layer(spec: tuple) -> nn.Module:
    kind = spec[0]
    if kind == "conv":
        _, c_in, c_out, *rest = spec
        kernel, stride, padding = rest if rest else (3, 1, 1)
        return nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding)
    if kind == "relu":
        return nn.ReLU()
    if kind == "pool":
        return nn.MaxPool2d(2, 2)
    return nn.MaxPool2d(3, 2)


class Backbone(nn.Module):
    """Five slices of a torchvision feature stack; module names keep torchvision's indices."""

    def __init__(self, net: str):
        super().__init__()
        layers, slices, _ = NETS[net]
        for k, (start, stop) in enumerate(slices, start=1):
            block = nn.Sequential()
            for i in range(start, stop):
                block.add_module(str(i), _make_layer(layers[i]))
            self.add_module(f"slice{k}", block)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            outs.append(x)
        return outs


class ScalingLayer(nn.Module):
    """LPIPS v0.1 input normalisation: (x - shift) / scale, x in [-1, 1]."""

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class NetLinLayer(nn.Module):
    """1x1 conv to one channel; the dropout slot keeps the lpips key `lin{k}.model.1.weight`."""

    def __init__(self, channels: int):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _unit_normalise(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    return x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPS(nn.Module):
    """Learned perceptual image patch similarity; lower is more similar, 0 for identical images."""

    def __init__(self, net: str = "vgg"):
        super().__init__()
        if net not in NETS:
            raise ConfigError(f"unknown LPIPS backbone {net!r}; valid: {', '.join(NETS)}")
        self.net_name = net
        self.scaling_layer = ScalingLayer()
        self.net = Backbone(net)
        for k, channels in enumerate(NETS[net][2]):
            self.add_module(f"lin{k}", NetLinLayer(channels))
        self.eval().requires_grad_(False)

    @classmethod
    def from_pretrained(
        cls, path: str | Path, net: str = "vgg", backbone_path: str | Path | None = None
    ) -> "LPIPS":
        """Load LPIPS from local files.

        Args:
            path: a full LPIPS state dict, or the lin-layer file (`vgg.pth` / `alex.pth`).
            net: "vgg" (the release's choice) or "alex".
            backbone_path: torchvision's ImageNet weights, when `path` holds only the lin layers.
        """
        model = cls(net)
        lin_source, backbone_source = _SOURCES[model.net_name]
        what = f"LPIPS ({net})"
        state = _rename(load_weights_file(path, what, f"{lin_source} or a full LPIPS state dict"), net)
        if backbone_path is not None:
            backbone = load_weights_file(backbone_path, f"{what} backbone", backbone_source)
            state.update(_rename(backbone, net))
        # The scaling layer is a constant of the method, absent from some files.
        state.setdefault("scaling_layer.shift", model.scaling_layer.shift)
        state.setdefault("scaling_layer.scale", model.scaling_layer.scale)
        check_and_load(
            model,
            state,
            what,
            f"Provide the lin layers ({lin_source}) as path and, unless path is a full LPIPS "
            f"state dict, the backbone ({backbone_source}) as backbone_path (--lpips-backbone).",
        )
        return model

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y: images `N 3 H W` in [-1, 1]; returns `N` distances."""
        feats_x = self.net(self.scaling_layer(x))
        feats_y = self.net(self.scaling_layer(y))
        total = 0
        for k, (fx, fy) in enumerate(zip(feats_x, feats_y)):
            diff = (_unit_normalise(fx) - _unit_normalise(fy)).pow(2)  # N C h w
            total = total + getattr(self, f"lin{k}")(diff).mean(dim=(1, 2, 3))
        return total

    @torch.no_grad()
    def video(self, a: torch.Tensor, b: torch.Tensor, chunk: int = 32) -> torch.Tensor:
        """Per-clip mean of per-frame LPIPS; a, b: `B 3 T H W` (or `3 T H W`) in [-1, 1] -> `B`."""
        a, b = as_video_batch(a, "a"), as_video_batch(b, "b")
        batch = a.shape[0]
        param = next(self.parameters())
        x = rearrange(a, "b c t h w -> (b t) c h w").clamp(-1, 1)
        y = rearrange(b, "b c t h w -> (b t) c h w").clamp(-1, 1)
        values = [
            self(x[i : i + chunk].to(param), y[i : i + chunk].to(param)).float()
            for i in range(0, x.shape[0], chunk)
        ]
        return rearrange(torch.cat(values), "(b t) -> b t", b=batch).mean(dim=1).cpu()


def _rename(state: dict[str, torch.Tensor], net: str) -> dict[str, torch.Tensor]:
    """Map the lpips / taming / torchvision key spellings onto this module's names."""
    out = {}
    for key, value in state.items():
        for prefix in _STRIP_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        parts = key.split(".")
        if parts[0] == "features" and len(parts) == 3:
            # torchvision `features.{i}.{weight,bias}` -> `net.slice{k}.{i}.{...}`
            k = _slice_of(int(parts[1]), net)
            if k is None:
                continue
            key = f"net.slice{k}.{parts[1]}.{parts[2]}"
        elif parts[0] == "lins" and len(parts) >= 2:
            key = f"lin{parts[1]}." + ".".join(parts[2:])
        elif parts[0] == "classifier":
            continue
        if key.startswith("lin") and key.endswith(".model.0.weight"):
            # lin layers saved without the dropout slot
            key = key.replace(".model.0.weight", ".model.1.weight")
        out[key] = value
    return out


def _slice_of(index: int, net: str) -> int | None:
    """The LPIPS slice holding torchvision layer `index`; None past the last slice (unused)."""
    return next((k for k, (_, stop) in enumerate(NETS[net][1], start=1) if index < stop), None)


def lpips_video(model: LPIPS, a: torch.Tensor, b: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """Per-clip mean over frames of LPIPS(a_t, b_t); `B 3 T H W` in [-1, 1] -> `B`."""
    return model.video(a, b, chunk=chunk)
