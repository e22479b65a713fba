"""Helpers for the Reducio-DiT tests: a tiny config, random non-zero weights, inputs."""

from __future__ import annotations

import torch

from reducio.models.dit import DiTConfig, ReducioDiT


def tiny_config(**changes) -> DiTConfig:
    # depth 5: not a multiple of 4, so the Fig. 2 cycling wraps mid-cycle.
    return DiTConfig.preset("tiny").replace(hidden_size=64, depth=5, num_heads=4, **changes)


def randomize(model: torch.nn.Module, seed: int = 0, std: float = 0.05) -> torch.nn.Module:
    """Overwrite every parameter with random values: zero-initialised gates and output layers
    would otherwise hide most of the computation from equivalence tests."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def make_inputs(config: DiTConfig, batch: int = 2, grid=(4, 2, 2), text_len: int = 7,
                seed: int = 0) -> dict:
    """Latent (B, C, t, h, w), timesteps, and every condition the config has (content at H/8)."""
    g = torch.Generator().manual_seed(seed)
    t, h, w = grid
    inputs = {
        "latent": torch.randn(batch, config.in_channels, t, h, w, generator=g),
        "timestep": torch.randint(0, 1000, (batch,), generator=g),
    }
    if config.text_dim:
        inputs["text"] = torch.randn(batch, text_len, config.text_dim, generator=g)
        mask = torch.ones(batch, text_len, dtype=torch.bool)
        for i in range(batch):
            mask[i, max(1, text_len - 2 * i):] = False  # different lengths per sample
        inputs["text_mask"] = mask
    if config.semantic_dim:
        inputs["semantic"] = torch.randn(batch, 9, config.semantic_dim, generator=g)
    if config.content_channels:
        inputs["content"] = torch.randn(batch, config.content_channels, 4 * h, 4 * w, generator=g)
    return inputs


def run(model: ReducioDiT, inputs: dict, **kwargs) -> torch.Tensor:
    args = dict(inputs)
    return model(args.pop("latent"), args.pop("timestep"), **args, **kwargs).sample
