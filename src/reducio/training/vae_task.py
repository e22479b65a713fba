"""Building a VAE training run from its config: model, LPIPS, datasets, objective."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from reducio.errors import ConfigError, ModelNotFoundError
from reducio.training.config import VAEModelSection, VAETrainConfig, VideoDataSection
from reducio.training.vae_objective import VAEObjective

logger = logging.getLogger(__name__)


def build_vae(section: VAEModelSection) -> nn.Module:
    """A ReducioVAE from a preset (+ overrides), or from released / saved weights with `init`."""
    from reducio.models.vae import ReducioVAE, VAEConfig

    if section.init:
        if section.overrides:
            logger.warning("model.init is set: the architecture comes from %s and model.overrides %s are ignored",
                           section.init, sorted(section.overrides))
        logger.info("initialising the VAE from %s", section.init)
        return ReducioVAE.from_pretrained(section.init)
    base = VAEConfig.preset(section.preset)
    config = VAEConfig.from_dict({**base.to_dict(), **section.overrides}) if section.overrides else base
    return ReducioVAE(config)


def load_lpips(path: str | None, backbone: str | None = None) -> nn.Module | None:
    """LPIPS(VGG) from local weights; None when no path is configured (the caller turns the term off)."""
    if not path:
        return None
    for key, value in (("loss.lpips_weights", path), ("loss.lpips_backbone", backbone)):
        if value is not None and not Path(value).exists():
            raise ModelNotFoundError(f"{key} {value!r} does not exist; pass the file holding the LPIPS VGG "
                                     "weights, or set loss.perceptual_weight=0")
    from reducio.eval.lpips import LPIPS

    return LPIPS.from_pretrained(path, net="vgg", backbone_path=backbone)


def build_video_datasets(data: VideoDataSection, num_samples: int = 2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(training dataset, dataset whose first items are the reconstruction samples)."""
    if data.kind == "shapes":
        from reducio.data.synthetic.world import ShapesDataset

        train = ShapesDataset(data.split, size=data.size, frames=data.frames, length=data.length)
        samples = ShapesDataset(data.sample_split, size=data.size, frames=data.frames, length=max(num_samples, 1))
        return train, samples
    if not data.root:
        raise ConfigError("data.root is not set for data.kind=folder; pass --set data.root=/path/to/videos "
                          "(or use the synthetic world: --set data.kind=shapes)")
    from reducio.data.datasets import VideoFolderDataset

    common = dict(captions=data.captions, frames=data.frames, size=data.size, fps=data.fps, seed=seed)
    return (VideoFolderDataset(data.root, train=True, **common),
            VideoFolderDataset(data.root, train=False, **common))


def build_vae_training(config: VAETrainConfig) -> tuple[VAEObjective, Dataset, Dataset]:
    """Objective + datasets for `reducio train vae` (the model itself is built in objective.setup)."""
    train, samples = build_video_datasets(config.data, config.logging.num_samples, config.train.seed)
    return VAEObjective(config), train, samples
