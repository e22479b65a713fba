"""reducio: Reducio-VAE and Reducio-DiT (arXiv 2411.13552) in PyTorch.

The public API. Names load on first use, so `import reducio` (and the CLI) stay fast:

    import reducio
    vae = reducio.ReducioVAE.from_pretrained("tiny")          # or a folder, .ckpt, hub id
    recon = vae(video).sample                                 # video: B 3 T H W in [-1, 1]
    pipe = reducio.ReducioTextToVideoPipeline.from_pretrained("tiny")   # the built-in, offline
    frames = pipe("a red circle moving right on a black background").frames  # B T H W 3, [0, 1]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "ReducioError": "reducio.errors",
    "ConfigError": "reducio.errors",
    "CheckpointError": "reducio.errors",
    "UnsafeCheckpointError": "reducio.errors",
    "ModelNotFoundError": "reducio.errors",
    "VideoInputError": "reducio.errors",
    "VideoReadError": "reducio.errors",
    "ShapeError": "reducio.errors",
    "VideoWriteError": "reducio.errors",
    "PipelineInputError": "reducio.errors",
    # Reducio-VAE
    "ReducioVAE": "reducio.models.vae",
    "VAEConfig": "reducio.models.vae",
    "DiagonalGaussian": "reducio.models.vae",
    "ReducioVAEOutput": "reducio.models.vae",
    # Reducio-DiT, conditions, diffusion
    "ReducioDiT": "reducio.models.dit",
    "DiTConfig": "reducio.models.dit",
    "DiffusionConfig": "reducio.diffusion",
    "make_scheduler": "reducio.diffusion",
    # pipelines
    "ReducioImageToVideoPipeline": "reducio.pipelines",
    "ReducioTextToVideoPipeline": "reducio.pipelines",
    "ReducioPipelineOutput": "reducio.pipelines",
    "ReducioStage1Generator": "reducio.pipelines",
    "ReducioEditPipeline": "reducio.pipelines",
    "ReducioMotionTransferPipeline": "reducio.pipelines",
    # data
    "read_video": "reducio.data.video_io",
    "probe_video": "reducio.data.video_io",
    "write_video": "reducio.data.video_write",
    "side_by_side": "reducio.data.video_write",
    "VideoFolderDataset": "reducio.data.datasets",
    "ShapesDataset": "reducio.data.synthetic.world",
    "make_clip": "reducio.data.synthetic.world",
    "LatentShardDataset": "reducio.data.latents",
    # training
    "Trainer": "reducio.training",
    "load_recipe": "reducio.training",
    # evaluation
    "psnr": "reducio.eval",
    "ssim": "reducio.eval",
    "ShapesEvaluator": "reducio.eval",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reducio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static type checkers and IDEs see the real names
    from reducio.data.datasets import VideoFolderDataset
    from reducio.data.latents import LatentShardDataset
    from reducio.data.synthetic.world import ShapesDataset, make_clip
    from reducio.data.video_io import probe_video, read_video
    from reducio.data.video_write import side_by_side, write_video
    from reducio.diffusion import DiffusionConfig, make_scheduler
    from reducio.errors import (
        CheckpointError,
        ConfigError,
        ModelNotFoundError,
        PipelineInputError,
        ReducioError,
        ShapeError,
        UnsafeCheckpointError,
        VideoInputError,
        VideoReadError,
        VideoWriteError,
    )
    from reducio.eval import ShapesEvaluator, psnr, ssim
    from reducio.models.dit import DiTConfig, ReducioDiT
    from reducio.models.vae import DiagonalGaussian, ReducioVAE, ReducioVAEOutput, VAEConfig
    from reducio.pipelines import (
        ReducioEditPipeline,
        ReducioImageToVideoPipeline,
        ReducioMotionTransferPipeline,
        ReducioPipelineOutput,
        ReducioStage1Generator,
        ReducioTextToVideoPipeline,
    )
    from reducio.training import Trainer, load_recipe
