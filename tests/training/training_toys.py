"""Helpers for the training tests: a toy VAE with ReducioVAE's forward contract, toy data, a toy
config, and `reducio ...` through the real command-line parser."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from reducio.cli.main import build_parser, load_command
from reducio.training.config import (
    EMASection,
    LoggingSection,
    RunSection,
    VAELossSection,
    VAEOptimSection,
    VAETrainConfig,
    VideoDataSection,
)


@dataclass
class ToyOutput:
    """A dataclass like ReducioVAE's DecoderOutput (DDP finds the output tensors in dataclasses)."""

    sample: torch.Tensor
    latent_dist: object
    latent: torch.Tensor


class ToyGaussian:
    def __init__(self, moments: torch.Tensor) -> None:
        self.mean, logvar = moments.chunk(2, dim=1)
        self.logvar = logvar.clamp(-30.0, 20.0)
        self.std = torch.exp(0.5 * self.logvar)
        self.var = torch.exp(self.logvar)

    def sample(self, generator=None) -> torch.Tensor:
        return self.mean + self.std * torch.randn(self.mean.shape, generator=generator, dtype=self.mean.dtype)

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self) -> torch.Tensor:
        return 0.5 * (self.mean.pow(2) + self.var - 1.0 - self.logvar).sum(dim=[1, 2, 3, 4])


class ToyDecoder(nn.Module):
    def __init__(self, z: int, ch: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv3d(z, ch, 3, padding=1)
        self.mid = nn.Conv3d(ch, ch, 3, padding=1)
        self.conv_out = nn.Conv3d(ch, 3, 3, padding=1)

    def forward(self, latent: torch.Tensor, content: torch.Tensor, size) -> torch.Tensor:
        h = F.interpolate(self.conv_in(latent), size=size, mode="nearest")  # B ch T H W
        h = F.silu(self.mid(F.silu(h + content.unsqueeze(2))))
        return self.conv_out(h)


class ToyVAE(nn.Module):
    """A few-thousand-parameter stand-in with ReducioVAE's forward contract (content frame + latent)."""

    def __init__(self, z: int = 4, ch: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Conv3d(3, 2 * z, kernel_size=(2, 4, 4), stride=(2, 4, 4))
        self.content = nn.Conv2d(3, ch, 3, padding=1)
        self.decoder = ToyDecoder(z, ch)

    def forward(self, video: torch.Tensor, sample_posterior: bool = False, generator=None):
        dist = ToyGaussian(self.encoder(video))  # B 2z T/2 H/4 W/4
        latent = dist.sample(generator) if sample_posterior else dist.mode()
        latent = F.layer_norm(latent, latent.shape[1:])
        content = self.content(video[:, :, (video.shape[2] - 1) // 2])  # B ch H W
        return ToyOutput(sample=self.decoder(latent, content, video.shape[2:]), latent_dist=dist, latent=latent)


def moving_square(index: int, frames: int = 8, size: int = 16) -> torch.Tensor:
    """A deterministic clip: a coloured square moving right on a grey background, (3, T, H, W) in [-1, 1]."""
    g = torch.Generator().manual_seed(index)
    colour = torch.rand(3, generator=g) * 2 - 1
    side = size // 4
    y = int(torch.randint(0, size - side, (1,), generator=g))
    video = torch.full((3, frames, size, size), -0.2)
    for t in range(frames):
        x = min(size - side, t * max(1, size // (2 * frames)) + index % 3)
        video[:, t, y : y + side, x : x + side] = colour[:, None, None]
    return video


class SquaresDataset(Dataset):
    def __init__(self, length: int = 8, frames: int = 8, size: int = 16) -> None:
        self.length, self.frames, self.size = length, frames, size

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        return {"video": moving_square(index, self.frames, self.size), "caption": f"clip {index}", "index": index}


def toy_config(**sections) -> VAETrainConfig:
    """A CPU config for toy runs; pass replacement sections as keyword arguments."""
    base = dict(
        data=VideoDataSection(kind="shapes", frames=8, size=16, batch_size=2, num_workers=0),
        optim=VAEOptimSection(lr=1e-3, scheduler="lambda_linear", cycle_length=100, disc_warmup_start=2,
                              disc_warmup_iters=3),
        loss=VAELossSection(perceptual_weight=0.0, disc_enabled=True, disc_start=3, disc_channels=8,
                            disc_layers=2),
        train=RunSection(max_steps=6, mixed_precision="no", gradient_checkpointing=False, cpu=True, log_every=1,
                         sample_every=0, save_every=3, keep_last=5),
        ema=EMASection(enabled=True, decay=0.9),
        logging=LoggingSection(progress_bar=False, tensorboard=False, num_samples=2),
    )
    base.update(sections)
    return VAETrainConfig(**base)


def run_cli(argv: list[str]) -> int:
    """`reducio ARGV` parsed by the real parser and run by the command's module; unlike
    `reducio.cli.main.main`, a ReducioError propagates (so a test can match its message)."""
    args = build_parser().parse_args(argv)
    return int(load_command(args).run(args) or 0)


# torchrun of the interpreter running the tests, found whether or not its venv is activated (never PATH's)
TORCHRUN = Path(sys.executable).parent / "torchrun"


def require_torchrun() -> Path:
    """TORCHRUN, or skip the calling test without it; under CI (CI=1) its absence fails the test
    instead, since CI must run the multi-process tests."""
    if TORCHRUN.is_file():
        return TORCHRUN
    message = f"no torchrun next to {sys.executable}"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{message}; CI={os.environ['CI']} must run the multi-process tests: install torch in "
                    "the environment that runs them")
    pytest.skip(message)
