"""A convolutional output refiner for a pixel-space DiT (the built-in stage-1 image generator).

A DiT paints each p x p patch from its own token through one linear layer, so an edge that
crosses a patch border is drawn twice, by two tokens that agree only as well as attention made
them. U-ViT (Bao et al., 2023) adds a 3x3 convolution after unpatchifying for this reason; the
refiner is a small stack of them, residual and zero-initialised: added to a trained model it
changes nothing until it is trained.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvRefiner(nn.Module):
    """prediction + convs(prediction, noisy input, noise level), per frame.

    Args:
        channels: the DiT's input/output channels (3 for RGB pixels).
        width: hidden channels of the convolutions.
        depth: number of 3x3 convolutions (>= 2); the receptive field is 2 * depth + 1 pixels.
        num_train_timesteps: the timestep scale, to turn timesteps into a [0, 1] noise-level map.
    """

    def __init__(self, channels: int = 3, *, width: int = 32, depth: int = 4,
                 num_train_timesteps: int = 1000) -> None:
        super().__init__()
        if width < 1 or depth < 2:
            raise ValueError(f"ConvRefiner needs width >= 1 and depth >= 2, got {width} / {depth}")
        self.num_train_timesteps = num_train_timesteps
        layers: list[nn.Module] = [nn.Conv2d(2 * channels + 1, width, 3, padding=1), nn.SiLU()]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.net = nn.Sequential(*layers)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, prediction: torch.Tensor, noisy: torch.Tensor,
                timesteps: torch.Tensor | float) -> torch.Tensor:
        """prediction, noisy: (B, C, T, H, W); timesteps: scalar or (B,). Returns (B, C, T, H, W)."""
        b, c, t, h, w = prediction.shape
        level = torch.as_tensor(timesteps, device=prediction.device, dtype=prediction.dtype)
        level = (level / self.num_train_timesteps).reshape(-1, 1, 1, 1, 1).expand(b, 1, t, h, w)
        x = torch.cat([prediction, noisy.to(prediction.dtype), level], dim=1)     # B 2C+1 T H W
        x = x.transpose(1, 2).reshape(b * t, 2 * c + 1, h, w)                    # (B T) 2C+1 H W
        delta = self.net(x).reshape(b, t, c, h, w).transpose(1, 2)                # B C T H W
        return prediction + delta
