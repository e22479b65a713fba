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

    if section.init_only and not section.init:
        raise ConfigError(f"model.init_only {list(section.init_only)} takes parameters from model.init, which is "
                          "not set; pass --set model.init=WEIGHTS (or drop model.init_only)")
    if section.init:
        if section.init_only:
            return _partly_initialised(section)
        if section.overrides:
            logger.warning("model.init is set: the architecture comes from %s and model.overrides %s are ignored",
                           section.init, sorted(section.overrides))
        logger.info("initialising the VAE from %s", section.init)
        return ReducioVAE.from_pretrained(section.init)
    base = VAEConfig.preset(section.preset)
    config = VAEConfig.from_dict({**base.to_dict(), **section.overrides}) if section.overrides else base
    return ReducioVAE(config)


def _partly_initialised(section: VAEModelSection) -> nn.Module:
    """model.init_only: the init's architecture with model.overrides, and only the parameters under
    the init_only prefixes copied from the init weights (their shapes must be unchanged)."""
    from reducio.models.vae import ReducioVAE, VAEConfig
    from reducio.training.vae_objective import matching_names

    source = ReducioVAE.from_pretrained(section.init)
    config = VAEConfig.from_dict({**source.arch.to_dict(), **section.overrides})
    vae = ReducioVAE(config)
    theirs, ours = source.state_dict(), vae.state_dict()
    names = matching_names(ours, section.init_only, "model.init_only", vae)
    wrong = [f"{n} {tuple(theirs[n].shape) if n in theirs else 'missing'} -> {tuple(ours[n].shape)}"
             for n in names if n not in theirs or theirs[n].shape != ours[n].shape]
    if wrong:
        raise ConfigError(f"model.init_only: {len(wrong)} tensors of {section.init} do not fit the new architecture "
                          f"(first: {wrong[0]}); model.overrides {dict(section.overrides)} changed a module "
                          "listed in init_only: copy only modules the overrides leave unchanged")
    vae.load_state_dict({n: theirs[n] for n in names}, strict=False)
    logger.info("model.init_only %s: %d tensors from %s, %d freshly initialised", list(section.init_only),
                len(names), section.init, len(ours) - len(names))
    return vae


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
