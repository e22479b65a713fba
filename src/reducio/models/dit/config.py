"""Reducio-DiT architecture config.

Defaults equal the `reducio-dit-1.2b` preset (T5-XXL text, OpenCLIP ViT-H-14 image tokens, SD-VAE
content latent, 16-channel Reducio-VAE ft4 motion latent). Everything the paper leaves open is a
decision recorded in docs/dit-design.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reducio.configs import Config, check_types, lookup_preset
from reducio.errors import ConfigError
from reducio.models.compatibility import dit_in_channels
from reducio.models.dit.presets import DIT_PRESETS
from reducio.models.vae.config import VAEConfig

ATTENTION_TYPES = ("3d", "2d+1d")
PREDICTION_TYPES = ("epsilon", "flow", "flow_x")


@dataclass(frozen=True, kw_only=True)
class DiTConfig(Config):
    """Reducio-DiT architecture.

    Latent and tokens:
    - `in_channels`: channels C of the motion latent (B, C, t, h, w): `dit_in_channels(vae)` of
      the VAE it denoises for (models/compatibility.py); the default is the released VAE's (ft4),
      `for_vae` builds a preset for another VAE. The output has the same shape (learned sigma off).
    - `patch_size`: (pt, ph, pw) of the video patch embedding; t, h, w must be multiples.

    Transformer (PixArt-alpha blocks):
    - `hidden_size` D, `depth` (number of blocks), `num_heads`, `mlp_ratio` (MLP width / D).
    - `attention`: "3d" = one self-attention over all t*h*w tokens (paper default, Tab. 5);
      "2d+1d" = spatial attention per frame plus an extra temporal attention per position.
    - `norm_eps`: eps of the parameter-free LayerNorms (PixArt: 1e-6).
    - `timestep_freq_dim`: sinusoidal features fed to the timestep MLP (PixArt: 256).
    - `pos_embed_base_size`: fixed 3D sin-cos position embedding (2D spatial + 1D temporal, summed).
      With a value B, spatial positions are rescaled so that a square grid spans B positions at
      any resolution (PixArt's rule; the step is isotropic, B / sqrt(h * w), so the aspect ratio
      survives). None: integer latent-grid positions.

    Conditions (each branch is optional: None removes it and its parameters):
    - `text_dim`: width of the text encoder's token states (T5 v1.1 XXL: 4096; MiniLM: 384).
    - `semantic_dim`: width of the image-semantic tokens (OpenCLIP ViT-H-14 patch tokens: 1280).
    - `content_channels`: channels of the content latent (SD VAE: 4), which arrives unscaled
      (as the release's `extract_latent.py` saves it) and is multiplied by `content_scale`
      (SD VAE: 0.18215) inside the model.
    - `content_patch_size`: the content latent (H/8) is cut into p x p patches -> an H/16 grid.
    - `content_split_threshold`: the efficient high-resolution content condition (appendix
      Fig. 2): when the content grid has more tokens than this, it is split into 4 interleaved
      sub-grids and block i cross-attends to sub-grid i mod 4. None: every block sees the full set.
    - `content_pos_embed`: add 2D sin-cos positions (in the video grid's coordinates) to content
      tokens, so that cross-attention can find the image region under each video token.

    Output:
    - `prediction_type`: what the network was trained to predict: "epsilon" (noise, the paper's
      objective), "flow" (rectified-flow velocity noise - x0) or "flow_x" (the clean sample x0 on the
      rectified-flow path, see reducio.diffusion.DiffusionConfig). Pipelines build the matching
      scheduler from it (`reducio.diffusion.make_scheduler`).
    """

    in_channels: int = dit_in_channels(VAEConfig())
    patch_size: tuple[int, int, int] = (1, 1, 1)

    hidden_size: int = 1600
    depth: int = 28
    num_heads: int = 25
    mlp_ratio: float = 4.0
    attention: Literal["3d", "2d+1d"] = "3d"
    norm_eps: float = 1e-6
    timestep_freq_dim: int = 256
    pos_embed_base_size: int | None = 16

    text_dim: int | None = 4096
    semantic_dim: int | None = 1280
    content_channels: int | None = 4
    content_patch_size: int = 2
    content_scale: float = 0.18215
    content_split_threshold: int | None = 1024
    content_pos_embed: bool = True

    prediction_type: Literal["epsilon", "flow", "flow_x"] = "epsilon"

    # ------------------------------------------------------------------ derived sizes
    @property
    def out_channels(self) -> int:
        """Learned sigma is off: the prediction has the latent's channels."""
        return self.in_channels

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def mlp_hidden_size(self) -> int:
        return int(self.hidden_size * self.mlp_ratio)

    @property
    def patch_dim(self) -> int:
        """Values per video patch: C * pt * ph * pw."""
        pt, ph, pw = self.patch_size
        return self.in_channels * pt * ph * pw

    @property
    def content_patch_dim(self) -> int:
        if self.content_channels is None:
            return 0
        return self.content_channels * self.content_patch_size**2

    @property
    def has_image(self) -> bool:
        """True when either image branch (semantic or content) exists."""
        return self.semantic_dim is not None or self.content_channels is not None

    # ------------------------------------------------------------------ validation
    def __post_init__(self) -> None:
        check_types(self)
        errors: list[str] = []
        positive = ["in_channels", "hidden_size", "depth", "num_heads", "timestep_freq_dim",
                    "content_patch_size"]
        for name in ("text_dim", "semantic_dim", "content_channels", "pos_embed_base_size",
                     "content_split_threshold"):
            if getattr(self, name) is not None:
                positive.append(name)
        for name in positive:
            if getattr(self, name) < 1:
                errors.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(p < 1 for p in self.patch_size):
            errors.append(f"patch_size entries must be >= 1, got {self.patch_size}")
        if self.mlp_ratio <= 0:
            errors.append(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.hidden_size % self.num_heads:
            errors.append(f"hidden_size ({self.hidden_size}) must be divisible by num_heads "
                          f"({self.num_heads})")
        # 2D sin-cos splits D in two halves, each in sin and cos.
        if self.hidden_size % 4:
            errors.append(f"hidden_size must be a multiple of 4 for the sin-cos position "
                          f"embedding, got {self.hidden_size}")
        if self.timestep_freq_dim % 2:
            errors.append(f"timestep_freq_dim must be even, got {self.timestep_freq_dim}")
        if self.content_scale <= 0:
            errors.append(f"content_scale must be > 0, got {self.content_scale}")
        if self.attention not in ATTENTION_TYPES:
            errors.append(f"attention must be one of {ATTENTION_TYPES}, got {self.attention!r}")
        if self.prediction_type not in PREDICTION_TYPES:
            errors.append(f"prediction_type must be one of {PREDICTION_TYPES}, "
                          f"got {self.prediction_type!r}")
        if errors:
            raise ConfigError("invalid DiTConfig: " + "; ".join(errors))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def preset(cls, name: str) -> DiTConfig:
        """Named configs: reducio-dit-1.2b (default), reducio-dit-pixart-xl, small, tiny."""
        return cls(**lookup_preset(name, DIT_PRESETS, what="DiT"))

    @classmethod
    def for_vae(cls, vae: VAEConfig, preset: str = "reducio-dit-1.2b", **changes) -> DiTConfig:
        """The preset `preset`, with `changes`, denoising `vae`'s latents (its in_channels is
        `dit_in_channels(vae)`)."""
        return cls.preset(preset).replace(in_channels=dit_in_channels(vae), **changes)
