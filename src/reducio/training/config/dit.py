"""The sections of a Reducio-DiT run on latent shards (`reducio train dit`, docs/train-dit.md), and
the model and diffusion configs they describe. `DiTTrainConfig` is the whole tree a DiT recipe
loads into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reducio.configs import Config
from reducio.diffusion import DiffusionConfig
from reducio.errors import ConfigError
from reducio.models.dit import DiTConfig
from reducio.training.config.run import EMASection, LoggingSection, LoRASection, RunSection


@dataclass(frozen=True, kw_only=True)
class DiTModelSection(Config):
    preset: str = "reducio-dit-1.2b"
    overrides: dict[str, Any] = field(default_factory=dict)  # DiTConfig fields replacing the preset's
    init: str | None = None  # a DiT from_pretrained path, or "pixart:PATH" (init_from_pixart)
    vae: str | None = None  # decodes validation samples; None: the `vae` the shards were extracted with
    # "auto": stored in the shards, else the built-in matching the branch width; "stored";
    # "none" (branch left unused); or an encoder spec (patch-pixel / CLIP path, pooled-rgb / SD-VAE path).
    semantic_encoder: str = "auto"
    content_encoder: str = "auto"


@dataclass(frozen=True, kw_only=True)
class LatentDataSection(Config):
    root: str | None = None  # folder of latent shards (reducio extract --output)
    sample_root: str | None = None  # shards whose first items are the validation samples (default: root)
    batch_size: int = 64  # per process
    num_workers: int = 4
    shuffle: bool = True
    bucket_group: int | None = None  # clips per aspect-bucket group (mixed-size shards); needs batch_size 1
    fps: int = 16  # of the sample videos

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.num_workers < 0:
            raise ConfigError(f"data.batch_size must be >= 1 and data.num_workers >= 0, got "
                              f"{self.batch_size} / {self.num_workers}")
        if self.bucket_group is not None and self.batch_size != 1:
            raise ConfigError(f"data.bucket_group={self.bucket_group} makes each item a batch of one aspect "
                              f"bucket; set data.batch_size=1 (got {self.batch_size})")


@dataclass(frozen=True, kw_only=True)
class DiTOptimSection(Config):
    # PixArt-alpha's recipe: AdamW lr 2e-5, weight decay 0.03, eps 1e-10, 1000 warm-up steps, clip 0.01.
    lr: float = 2e-5
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.03
    eps: float = 1e-10
    warmup_steps: int = 1000
    grad_clip: float | None = 0.01

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.warmup_steps < 0:
            raise ConfigError(f"optim.lr must be > 0 and optim.warmup_steps >= 0, got {self.lr} / {self.warmup_steps}")


@dataclass(frozen=True, kw_only=True)
class SamplingSection(Config):
    sampler: str | None = None  # None: dpm (epsilon) / euler (flow)
    steps: int = 20
    text_scale: float = 4.5
    image_scale: float = 1.0
    seed: int = 0


@dataclass(frozen=True, kw_only=True)
class DiTTrainConfig(Config):
    """A whole DiT training run; `diffusion` holds DiffusionConfig fields (objective, drop rates...)."""

    task: Literal["dit"] = "dit"
    model: DiTModelSection = field(default_factory=DiTModelSection)
    data: LatentDataSection = field(default_factory=LatentDataSection)
    optim: DiTOptimSection = field(default_factory=DiTOptimSection)
    diffusion: dict[str, Any] = field(default_factory=dict)
    sampling: SamplingSection = field(default_factory=SamplingSection)
    train: RunSection = field(default_factory=lambda: RunSection(mixed_precision="bf16", gradient_checkpointing=True))
    ema: EMASection = field(default_factory=lambda: EMASection(enabled=True, decay=0.9999))
    logging: LoggingSection = field(default_factory=LoggingSection)
    # rank >= 1: train a LoRA adapter on the frozen DiT of model.init and export only the adapter
    lora: LoRASection = field(default_factory=LoRASection)
    effective: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model.init or self.model.init.startswith("pixart:"):
            dit_config(self.model)  # a bad preset / override fails at load time, naming the key
        diffusion_config(self.diffusion, None)
        if self.lora.enabled and self.train.fsdp:
            raise ConfigError(f"lora.rank={self.lora.rank} with train.fsdp=true: sharding a frozen base with "
                              "adapters is not supported here; set train.fsdp=false (the adapter trains with DDP)")


def dit_config(section: DiTModelSection) -> DiTConfig:
    """The DiT's config: the preset with `overrides` applied."""
    base = DiTConfig.preset(section.preset)
    return base.replace(**section.overrides) if section.overrides else base


def diffusion_config(values: dict[str, Any], prediction_type: str | None) -> DiffusionConfig:
    """DiffusionConfig from the `diffusion` section; its objective must match the DiT's prediction."""
    values = dict(values)
    objective = values.pop("objective", prediction_type or "epsilon")
    if prediction_type is not None and objective != prediction_type:
        raise ConfigError(f"diffusion.objective={objective!r} but the DiT predicts {prediction_type!r}; "
                          f"set model.overrides.prediction_type={objective} or drop diffusion.objective")
    return DiffusionConfig.from_dict({**values, "objective": objective})
