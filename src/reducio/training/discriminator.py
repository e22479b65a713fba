"""3D PatchGAN discriminator of the release (`NLayerDiscriminator3D`, docs/architecture.md §4.2).

Submodule names (`main.{i}`) match the release's `loss.discriminator.main.*` keys, so the
discriminator of an official checkpoint loads into it after stripping `loss.discriminator.`.
"""

from __future__ import annotations

import torch
from torch import nn


class NLayerDiscriminator3D(nn.Module):
    """PatchGAN over (T, H, W); BatchNorm3d, LeakyReLU 0.2; returns per-patch logits (B, 1, t, h, w).

    For `num_layers=3`, `channels=64` and a 16x64x64 clip the logits are (B, 1, 2, 6, 6);
    at 16x256x256 they are (B, 1, 2, 30, 30).
    """

    def __init__(self, in_channels: int = 3, channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        # BatchNorm carries the affine shift, so the normalised convs have no bias (as in pix2pix).
        layers: list[nn.Module] = [
            nn.Conv3d(in_channels, channels, kernel_size=4, stride=2, padding=1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, num_layers):
            prev, mult = mult, min(2**n, 8)
            kernel = (3, 4, 4) if n == num_layers - 1 else 4  # the last strided conv keeps more of T
            layers += [
                nn.Conv3d(channels * prev, channels * mult, kernel_size=kernel, stride=2, padding=1, bias=False),
                nn.BatchNorm3d(channels * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**num_layers, 8)
        layers += [
            nn.Conv3d(channels * prev, channels * mult, kernel_size=(1, 4, 4), stride=1, padding=(0, 1, 1), bias=False),
            nn.BatchNorm3d(channels * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv3d(channels * mult, 1, kernel_size=(1, 4, 4), stride=1, padding=(0, 1, 1)),
        ]
        self.main = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The release's `weights_init`: conv N(0, 0.02) (biases keep PyTorch's default), BN weight N(1, 0.02), bias 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.constant_(module.bias, 0.0)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video: (B, 3, T, H, W) -> logits (B, 1, t, h, w)."""
        return self.main(video)
