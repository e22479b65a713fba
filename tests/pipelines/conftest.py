"""Tiny random-weight pipelines for the pipeline tests (seconds on one CPU thread)."""

from __future__ import annotations

import pytest
import torch

from reducio.conditioning import MiniLMTextEncoder, PatchPixelSemanticEncoder, PooledRGBContentEncoder
from reducio.diffusion import DiffusionConfig, make_scheduler
from reducio.models.dit import DiTConfig, ReducioDiT
from reducio.models.vae import ReducioVAE, VAEConfig
from reducio.pipelines import (
    ReducioImageToVideoPipeline,
    ReducioStage1Generator,
    ReducioTextToVideoPipeline,
    Stage1Config,
)


def randomize_(module: torch.nn.Module, seed: int, std: float = 0.05) -> torch.nn.Module:
    """Replace every weight by seeded noise. A fresh ReducioDiT predicts exactly 0 (zero-init
    gates and output layer), which would make every pipeline test pass trivially."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * std)
    return module

@pytest.fixture(scope="session")
def text_encoder() -> MiniLMTextEncoder:
    return MiniLMTextEncoder.load()

@pytest.fixture(scope="session")
def vae() -> ReducioVAE:
    torch.manual_seed(0)
    return ReducioVAE(VAEConfig.preset("tiny")).eval()

@pytest.fixture(scope="session")
def dit() -> ReducioDiT:
    return randomize_(ReducioDiT(DiTConfig.preset("tiny")), seed=1).eval()

@pytest.fixture(scope="session")
def stage1() -> ReducioStage1Generator:
    return randomize_(ReducioStage1Generator(Stage1Config.preset("tiny-image")), seed=2).eval()

@pytest.fixture
def make_pipe(vae, dit, text_encoder):
    """Factory: a fresh image-to-video pipeline (own scheduler) over the shared tiny models."""

    def make(objective: str = "epsilon", sampler: str | None = None) -> ReducioImageToVideoPipeline:
        model = dit
        if objective != model.arch.prediction_type:
            model = randomize_(ReducioDiT(dit.arch.replace(prediction_type=objective)), seed=1)
        config = DiffusionConfig.for_prediction(objective)
        pipe = ReducioImageToVideoPipeline(
            vae, model, make_scheduler(config, sampler), text_encoder.model, text_encoder.tokenizer,
            PatchPixelSemanticEncoder(), PooledRGBContentEncoder(), diffusion_config=config,
            default_num_inference_steps=2, default_guidance_scale=3.0)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return make


@pytest.fixture
def pipe(make_pipe) -> ReducioImageToVideoPipeline:
    return make_pipe()


@pytest.fixture
def t2v(pipe, stage1) -> ReducioTextToVideoPipeline:
    t2v = ReducioTextToVideoPipeline.from_stage1(stage1, **pipe.components, **{
        k: pipe.config[k] for k in ("diffusion_config", "semantic_encoder_config",
                                    "content_encoder_config", "default_num_inference_steps",
                                    "default_guidance_scale")})
    t2v.set_progress_bar_config(disable=True)
    return t2v


@pytest.fixture
def image() -> torch.Tensor:
    """A 64 px content frame: a red square on black, (1, 3, 64, 64) in [-1, 1]."""
    image = -torch.ones(1, 3, 64, 64)
    image[:, 0, 20:40, 24:44] = 0.8
    return image
