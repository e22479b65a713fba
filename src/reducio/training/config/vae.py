"""The sections of a VAE run (`reducio train vae`). Defaults are the release's values
(docs/architecture.md §4) unless noted. `VAETrainConfig` is the whole tree a VAE recipe loads into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reducio.configs import Config
from reducio.data.synthetic.outside import check_outside_vocabulary_share
from reducio.training.config.run import EMASection, LoggingSection, RunSection, check


@dataclass(frozen=True, kw_only=True)
class VAEModelSection(Config):
    preset: str = "ft4"  # a VAEConfig preset name
    overrides: dict[str, Any] = field(default_factory=dict)  # VAEConfig fields replacing the preset's
    init: str | None = None  # from_pretrained path (official .ckpt too) to fine-tune; None = from scratch
    # Parameter-name prefixes kept fixed, e.g. ["encoder_3d", "quant_conv"]: a decoder-only
    # fine-tune that leaves the motion latents (and any DiT trained on them) unchanged.
    freeze: tuple[str, ...] = ()
    # With `init`: take only the parameters under these prefixes from the init weights; the
    # architecture is the init's config with `overrides` applied, the rest starts fresh. E.g. a
    # narrower (faster) decoder on a released encoder: overrides {decoder_channels: 64},
    # init_only [encoder_3d, quant_conv, encoder_2d], freeze the same (docs/train-vae.md).
    init_only: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class VideoDataSection(Config):
    kind: Literal["folder", "shapes"] = "folder"
    root: str | None = None  # folder of videos (kind=folder)
    captions: str | None = None
    split: str = "train"  # shapes split
    sample_split: str = "val"  # shapes split the reconstruction samples come from
    length: int = 100_000  # shapes clips per epoch
    # kind=shapes: this share of the training clips are drawn outside the world's vocabulary
    # (reducio.data.synthetic.outside; docs/train-vae.md, "Clips outside the vocabulary")
    outside_vocabulary_share: float = 0.0
    frames: int = 16
    size: int = 256
    fps: int = 16
    batch_size: int = 4  # per process; release: 4 per GPU x 4 GPUs
    num_workers: int = 4
    shuffle: bool = True

    def __post_init__(self) -> None:
        check(self.batch_size >= 1, f"data.batch_size must be >= 1, got {self.batch_size}")
        check(self.num_workers >= 0, f"data.num_workers must be >= 0, got {self.num_workers}")
        check(self.frames >= 1 and self.size >= 1, f"data.frames/size must be positive, got {self.frames}/{self.size}")
        check_outside_vocabulary_share(self.outside_vocabulary_share, self.kind)


@dataclass(frozen=True, kw_only=True)
class VAEOptimSection(Config):
    lr: float = 2e-5  # release base_learning_rate, scale_lr False
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    grad_clip: float | None = None  # release: none
    scheduler: Literal["lambda_linear", "constant"] = "lambda_linear"
    # LambdaLinearScheduler (warm_up_steps [0], cycle_lengths [1e6], f_start/f_max 1, f_min 0.01)
    warm_up_steps: int = 0
    cycle_length: int = 1_000_000
    f_start: float = 1.0
    f_max: float = 1.0
    f_min: float = 0.01
    # The release calls this `disc_loss_scale` (0.1); it is only ever used as the discriminator's
    # learning-rate multiplier in configure_optimizers (lr_disc = disc_loss_scale * lr), never on a loss.
    disc_lr_scale: float = 0.1
    disc_betas: tuple[float, float] = (0.5, 0.9)
    disc_grad_clip: float | None = None
    disc_scheduler: Literal["warmup", "constant"] = "warmup"
    # WarmupLR: factor 0.1 before iteration 5000, linear to 1.0 over 5000..6000, then 1.0
    disc_warmup_factor: float = 0.1
    disc_warmup_start: int = 5000
    disc_warmup_iters: int = 1000

    def __post_init__(self) -> None:
        check(self.lr > 0, f"optim.lr must be > 0, got {self.lr}")
        check(self.cycle_length >= 1, f"optim.cycle_length must be >= 1, got {self.cycle_length}")


@dataclass(frozen=True, kw_only=True)
class VAELossSection(Config):
    rec_loss: Literal["l1", "mse"] = "l1"  # release loss_norm 'l1'
    rec_weight: float = 1.0
    perceptual_weight: float = 0.1  # LPIPS(VGG) per frame; needs lpips_weights
    lpips_weights: str | None = None  # local LPIPS weights: a full state dict or the lin layers (vgg.pth)
    lpips_backbone: str | None = None  # torchvision VGG16 weights, needed when lpips_weights holds only lin layers
    kl_weight: float = 1e-6
    penalty_weight: float = 1.0  # one-sided outlier penalty (mean + radius * std per frame plane)
    penalty_radius: float = 3.0
    disc_enabled: bool = True
    disc_start: int = 10001
    # The release compares disc_start with Lightning's global_step, which counts optimiser steps:
    # two per iteration (generator + discriminator). "lightning_global_step" reproduces that
    # (generator term from iteration 5001, discriminator from 5000); "iteration" counts our steps.
    disc_start_unit: Literal["lightning_global_step", "iteration"] = "lightning_global_step"
    disc_weight: float = 0.05
    disc_factor: float = 1.0
    adaptive_disc_weight: bool = True
    disc_loss: Literal["hinge", "vanilla"] = "hinge"
    disc_channels: int = 64
    disc_layers: int = 3
    sample_posterior: bool = True  # release: the forward always samples the posterior
    # Not in the release (deviation levers, off by default): weight of the per-pixel reconstruction
    # error by how far the target pixel is from the content frame: w = 1 + motion_weight * |x - x_c|.
    motion_weight: float = 0.0
    # Not in the release: the probability that a training sample is decoded without its content
    # frame (features and, with content_skip, the added frame zeroed), so the motion latent must
    # carry the whole clip for those samples. Breaks the content-copy trap of small models.
    content_dropout: float = 0.0
    # Not in the release: weight of 1 - SSIM (the metric's SSIM, on the clamped reconstruction)
    # added to the generator loss. SSIM punishes low-amplitude error on flat regions, which MSE
    # and L1 barely see; used to fine-tune the built-in tiny decoder (docs/train-vae.md).
    ssim_weight: float = 0.0

    def __post_init__(self) -> None:
        check(self.ssim_weight >= 0, f"loss.ssim_weight must be >= 0, got {self.ssim_weight}")
        check(self.perceptual_weight >= 0, f"loss.perceptual_weight must be >= 0, got {self.perceptual_weight}")
        check(self.motion_weight >= 0, f"loss.motion_weight must be >= 0, got {self.motion_weight}")
        check(0 <= self.content_dropout < 1,
               f"loss.content_dropout must be in [0, 1), got {self.content_dropout}")
        check(self.disc_layers >= 1, f"loss.disc_layers must be >= 1, got {self.disc_layers}")


@dataclass(frozen=True, kw_only=True)
class VAETrainConfig(Config):
    """A whole VAE training run. `effective` is written by the trainer: what actually runs."""

    task: Literal["vae"] = "vae"
    model: VAEModelSection = field(default_factory=VAEModelSection)
    data: VideoDataSection = field(default_factory=VideoDataSection)
    optim: VAEOptimSection = field(default_factory=VAEOptimSection)
    loss: VAELossSection = field(default_factory=VAELossSection)
    train: RunSection = field(default_factory=RunSection)
    ema: EMASection = field(default_factory=EMASection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    effective: dict[str, Any] = field(default_factory=dict)
