"""Building a VAE training run from its config: datasets and the objective (the model: vae_model.py)."""

from __future__ import annotations

from torch.utils.data import Dataset

from reducio.data.datasets import VideoFolderDataset
from reducio.data.synthetic.outside import WithOutsideClips
from reducio.data.synthetic.world import ShapesDataset
from reducio.errors import ConfigError
from reducio.training.config import VAETrainConfig, VideoDataSection
from reducio.training.vae_objective import VAEObjective


def build_video_datasets(data: VideoDataSection, num_samples: int = 2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(training dataset, dataset whose first items are the reconstruction samples)."""
    if data.kind == "shapes":
        train = ShapesDataset(data.split, size=data.size, frames=data.frames, length=data.length)
        if data.outside_vocabulary_share > 0:
            train = WithOutsideClips(train, data.outside_vocabulary_share)
        samples = ShapesDataset(data.sample_split, size=data.size, frames=data.frames, length=max(num_samples, 1))
        return train, samples
    if not data.root:
        raise ConfigError("data.root is not set for data.kind=folder; pass --set data.root=/path/to/videos "
                          "(or use the synthetic world: --set data.kind=shapes)")
    common = dict(captions=data.captions, frames=data.frames, size=data.size, fps=data.fps, seed=seed)
    return (VideoFolderDataset(data.root, train=True, **common),
            VideoFolderDataset(data.root, train=False, **common))


def build_vae_training(config: VAETrainConfig) -> tuple[VAEObjective, Dataset, Dataset]:
    """Objective + datasets for `reducio train vae` (the model itself is built in objective.setup)."""
    train, samples = build_video_datasets(config.data, config.logging.num_samples, config.train.seed)
    return VAEObjective(config), train, samples
