"""The sections of a stage-1 image generator run (`reducio train stage1`: text -> content frame,
`reducio.pipelines.stage1`), and the generator config they describe."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reducio.configs import Config
from reducio.data.synthetic.outside import check_outside_vocabulary_share
from reducio.diffusion import DiffusionConfig
from reducio.errors import ConfigError
from reducio.pipelines.stage1 import Stage1Config
from reducio.training.config.dit import DiTOptimSection
from reducio.training.config.run import EMASection, LoggingSection, RunSection


@dataclass(frozen=True, kw_only=True)
class Stage1ModelSection(Config):
    preset: str = "tiny-image"  # a Stage1Config preset
    dit_overrides: dict[str, Any] = field(default_factory=dict)  # DiTConfig fields
    diffusion: dict[str, Any] = field(default_factory=dict)  # DiffusionConfig fields
    overrides: dict[str, Any] = field(default_factory=dict)  # other Stage1Config fields (image_size, sampler...)
    init: str | None = None  # ReducioStage1Generator.from_pretrained path to fine-tune


@dataclass(frozen=True, kw_only=True)
class ImageDataSection(Config):
    kind: Literal["shapes", "shards"] = "shapes"
    root: str | None = None  # latent shards (kind=shards)
    split: str = "train"
    sample_split: str = "validation"
    length: int = 100_000  # shapes clips per epoch
    size: int = 64
    frames: int = 16  # the content frame is the middle of a clip this long
    paraphrase: bool = False
    # kind=shapes: this share of the training frames are drawn outside the world's vocabulary,
    # with their own captions (reducio.data.synthetic.outside)
    outside_vocabulary_share: float = 0.0
    batch_size: int = 32
    num_workers: int = 0
    shuffle: bool = True
    fps: int = 16

    def __post_init__(self) -> None:
        check_outside_vocabulary_share(self.outside_vocabulary_share, self.kind)
        if self.batch_size < 1 or self.num_workers < 0:
            raise ConfigError(f"data.batch_size must be >= 1 and data.num_workers >= 0, got "
                              f"{self.batch_size} / {self.num_workers}")


@dataclass(frozen=True, kw_only=True)
class Stage1SamplingSection(Config):
    steps: int | None = None  # None: the model config's num_inference_steps
    guidance_scale: float | None = None
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class Stage1TrainConfig(Config):
    task: Literal["stage1"] = "stage1"
    model: Stage1ModelSection = field(default_factory=Stage1ModelSection)
    data: ImageDataSection = field(default_factory=ImageDataSection)
    optim: DiTOptimSection = field(default_factory=DiTOptimSection)
    sampling: Stage1SamplingSection = field(default_factory=Stage1SamplingSection)
    train: RunSection = field(default_factory=RunSection)
    ema: EMASection = field(default_factory=EMASection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    effective: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model.init:
            stage1_config(self.model)


def stage1_config(section: Stage1ModelSection) -> Stage1Config:
    """The generator's config: the preset with the section's DiT, diffusion and other overrides."""
    base = Stage1Config.preset(section.preset)
    dit = base.dit.replace(**section.dit_overrides) if section.dit_overrides else base.dit
    diffusion = (DiffusionConfig.from_dict({**base.diffusion.to_dict(), **section.diffusion})
                 if section.diffusion else base.diffusion)
    return base.replace(dit=dit, diffusion=diffusion, **section.overrides)
