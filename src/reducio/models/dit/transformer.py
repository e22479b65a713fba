"""Reducio-DiT: a PixArt-alpha-style diffusion transformer over Reducio-VAE motion latents.

latent (B, C, t, h, w) -> patch tokens + fixed 3D sin-cos positions -> `depth` blocks of
[self-attention (3D or 2D+1D) -> cross-attention to the condition tokens -> MLP], each modulated
by one shared timestep embedding (adaLN-single) -> final layer -> (B, C, t, h, w) prediction.

The cross-attention context is the concatenation [text | null text | image semantic | null image |
content] with one key mask. Classifier-free guidance drops conditions per sample: a dropped text
or image is masked out and its learned null token is unmasked instead, so every row keeps at least
one key and the shapes of a batch never depend on what was dropped.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import ConfigMixin, ModelMixin
from diffusers.loaders import PeftAdapterMixin
from diffusers.models.modeling_outputs import Transformer2DModelOutput
from torch import nn

from reducio.errors import ShapeError
from reducio.models.modeling import ReducioModelMixin, takes_config
from reducio.models.dit.block import DiTBlock, FinalLayer
from reducio.models.dit.config import DiTConfig
from reducio.models.dit.content_condition import ContentEmbedder, split_content_tokens
from reducio.models.dit.embeddings import MLPProjection, TimestepEmbedder, video_pos_embed
from reducio.models.dit.patchify import check_patchable, patchify, unpatchify

FlagLike = bool | torch.Tensor | None


class ReducioDiT(ReducioModelMixin, ModelMixin, ConfigMixin, PeftAdapterMixin):
    """Text + image conditioned video diffusion transformer (see `forward`), a diffusers model.

    `ReducioDiT(DiTConfig.preset("tiny"))`, `ReducioDiT.from_config("tiny")`,
    `ReducioDiT.from_pretrained(folder_or_id)` (strict: models/modeling.py), `save_pretrained`;
    peft LoRA through `add_adapter` / `load_lora_adapter` (diffusers' PeftAdapterMixin).
    """

    config_class = DiTConfig
    builtin_kind = "dit"
    _supports_gradient_checkpointing = True
    _no_split_modules = ["DiTBlock"]

    @takes_config(DiTConfig)
    def __init__(self, config: DiTConfig | str | None = None, **fields: Any) -> None:
        super().__init__()
        config, runtime = self._register_arch(config, fields)
        dim = config.hidden_size

        self.patch_embed = nn.Linear(config.patch_dim, dim)
        self.time_embed = TimestepEmbedder(dim, config.timestep_freq_dim)
        # adaLN-single: one projection of the timestep gives all blocks their 6 modulation rows.
        self.time_act = nn.SiLU()
        self.time_modulation = nn.Linear(dim, 6 * dim)

        self.text_proj = MLPProjection(config.text_dim, dim) if config.text_dim else None
        self.null_text = nn.Parameter(torch.zeros(1, dim)) if config.text_dim else None
        self.semantic_proj = (MLPProjection(config.semantic_dim, dim)
                              if config.semantic_dim else None)
        self.content_embed = ContentEmbedder(config) if config.content_channels else None
        self.null_image = nn.Parameter(torch.zeros(1, dim)) if config.has_image else None

        has_context = config.text_dim is not None or config.has_image
        self.blocks = nn.ModuleList(DiTBlock(config, cross_attention=has_context)
                                    for _ in range(config.depth))
        self.final = FinalLayer(config)
        self.gradient_checkpointing = False
        self._pos_cache: dict[tuple, torch.Tensor] = {}
        self.initialize_weights()
        self.apply_runtime_settings(runtime)  # DiTConfig has no runtime keys: always empty

    # ------------------------------------------------------------------ init
    def initialize_weights(self) -> None:
        """DiT / PixArt initialisation, with every block starting as the identity.

        Linear layers: xavier-uniform, zero bias (DiT). Timestep MLP and condition projections:
        N(0, 0.02) (PixArt). adaLN-single projection, per-block tables and the cross-attention and
        temporal-attention output projections: zero, so at step 0 every block passes its input
        through unchanged (gates are 0 and the ungated cross-attention adds 0). Final layer: zero,
        so the first prediction is exactly 0 and training starts from a neutral model.
        """
        def basic_init(module: nn.Module) -> None:
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

        self.apply(basic_init)
        for linear in (self.time_embed.linear_1, self.time_embed.linear_2):
            nn.init.normal_(linear.weight, std=0.02)
        for proj in (self.text_proj, self.semantic_proj,
                     self.content_embed.proj if self.content_embed is not None else None):
            if proj is not None:
                nn.init.normal_(proj.linear_1.weight, std=0.02)
                nn.init.normal_(proj.linear_2.weight, std=0.02)
        for null in (self.null_text, self.null_image):
            if null is not None:
                nn.init.normal_(null, std=0.02)
        nn.init.zeros_(self.time_modulation.weight)
        nn.init.zeros_(self.time_modulation.bias)
        for block in self.blocks:
            nn.init.zeros_(block.scale_shift_table)
            if block.cross_attn is not None:
                nn.init.zeros_(block.cross_attn.to_out.weight)
                nn.init.zeros_(block.cross_attn.to_out.bias)
            if block.factorised:
                nn.init.zeros_(block.temporal_attn.to_out.weight)
                nn.init.zeros_(block.temporal_attn.to_out.bias)
        nn.init.zeros_(self.final.scale_shift_table)
        nn.init.zeros_(self.final.linear.weight)
        nn.init.zeros_(self.final.linear.bias)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        latent: torch.Tensor,
        timestep: torch.Tensor | float,
        *,
        text: torch.Tensor | None = None,
        text_mask: torch.Tensor | None = None,
        semantic: torch.Tensor | None = None,
        content: torch.Tensor | None = None,
        drop_text: FlagLike = None,
        drop_image: FlagLike = None,
        content_split: bool | None = None,
        return_dict: bool = True,
    ) -> Transformer2DModelOutput | tuple[torch.Tensor]:
        """Predict noise (or velocity, per `config.prediction_type`) for a noisy motion latent.

        Args:
            latent: (B, C, t, h, w) noisy latent; C = config.in_channels, (t, h, w) multiples of
                config.patch_size.
            timestep: (B,) or scalar diffusion time (0..999 for epsilon; sigma * 1000 for flow).
            text: (B, L, text_dim) text-encoder token states; None = no text for any sample.
            text_mask: (B, L) bool, True for real tokens; None = all real.
            semantic: (B, N, semantic_dim) image-semantic tokens (OpenCLIP patch tokens); or None.
            content: (B, content_channels, H/8, W/8) unscaled content latent; or None.
            drop_text, drop_image: (B,) bool or a bool for all: replace the text / the image
                (semantic and content together) by its learned null token (classifier-free guidance).
            content_split: force the Fig. 2 sub-grid split on (True) or off (False); None: split
                when the content grid has more than config.content_split_threshold tokens.

        Returns:
            Transformer2DModelOutput(sample=(B, C, t, h, w) prediction in `latent`'s dtype), or
            the tuple (prediction,) with return_dict=False.
        """
        config = self.arch
        check_patchable(latent, config.patch_size, config.in_channels)
        batch, (frames, height, width) = latent.shape[0], latent.shape[2:]
        pt, ph, pw = config.patch_size
        grid = (frames // pt, height // ph, width // pw)
        dtype = self.patch_embed.weight.dtype

        x = self.patch_embed(patchify(latent.to(dtype), config.patch_size))         # B N D
        x = x + self._video_pos_embed(grid, latent.device, dtype)[None]

        t_emb = self.time_embed(_batch_timesteps(timestep, batch, latent.device))   # B D
        modulation = self.time_modulation(self.time_act(t_emb))                      # B 6D
        modulation = modulation.unflatten(1, (6, config.hidden_size))               # B 6 D

        contexts = self._layer_contexts(batch, (height, width), latent.device, dtype, text=text,
                                        text_mask=text_mask, semantic=semantic, content=content,
                                        drop_text=drop_text, drop_image=drop_image,
                                        content_split=content_split)
        for index, block in enumerate(self.blocks):
            context, mask = contexts[index % len(contexts)] if contexts else (None, None)
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x = self._gradient_checkpointing_func(block, x, modulation, grid, context, mask)
            else:
                x = block(x, modulation, grid, context, mask)

        out = self.final(x, t_emb)                                                   # B N patch
        sample = unpatchify(out, config.patch_size, grid).to(latent.dtype)          # B C t h w
        return Transformer2DModelOutput(sample=sample) if return_dict else (sample,)

    @torch.compiler.disable
    def _video_pos_embed(self, grid: tuple[int, int, int], device: torch.device,
                         dtype: torch.dtype) -> torch.Tensor:
        """(N, D) fixed position embedding; built in float64 on the CPU (MPS has no float64)
        once per grid, device and dtype. Outside torch.compile: a cached tensor made inside a
        CUDA-graphed region (mode "reduce-overhead") would be overwritten by the next replay
        (measured on an H100: "accessing tensor output of CUDAGraphs that has been overwritten")."""
        key = (grid, device, dtype)
        if key not in self._pos_cache:
            if len(self._pos_cache) > 16:  # aspect buckets x devices; never grows without bound
                self._pos_cache.clear()
            pos = video_pos_embed(self.arch.hidden_size, grid, self.arch.patch_size,
                                  self.arch.pos_embed_base_size)
            self._pos_cache[key] = pos.to(device=device, dtype=dtype)
        return self._pos_cache[key]

    # ------------------------------------------------------------------ conditions
    def _layer_contexts(self, batch: int, latent_hw: tuple[int, int], device: torch.device,
                        dtype: torch.dtype, *, text, text_mask, semantic, content, drop_text,
                        drop_image, content_split) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The cross-attention (context (B, M, D), mask (B, M)) of each block, cycled by index.

        One entry when every block sees the same context; four when the content grid is split
        (Fig. 2): entry k holds content sub-grid k, and block i uses entry i mod 4.
        """
        config = self.arch
        drop_text = _batch_flags(drop_text, batch, device, "drop_text")
        drop_image = _batch_flags(drop_image, batch, device, "drop_image")
        parts: list[torch.Tensor] = []
        masks: list[torch.Tensor] = []

        def add(tokens: torch.Tensor, mask: torch.Tensor) -> None:
            parts.append(tokens)
            masks.append(mask)

        if self.text_proj is not None:
            if text is not None:
                _check_tokens(text, batch, config.text_dim, "text", "text_dim")
                if text_mask is None:
                    text_mask = torch.ones(text.shape[:2], dtype=torch.bool, device=device)  # B L
                elif tuple(text_mask.shape) != tuple(text.shape[:2]):
                    raise ShapeError(f"text_mask must be (B, L) = {tuple(text.shape[:2])}, "
                                     f"got {tuple(text_mask.shape)}")
                text_mask = text_mask.to(device=device, dtype=torch.bool)
                keep = text_mask & ~drop_text[:, None]                              # B L
                add(self.text_proj(text.to(dtype)), keep)                         # B L D
                null_on = ~keep.any(dim=1)
            else:
                null_on = torch.ones(batch, dtype=torch.bool, device=device)
            add(self.null_text.to(dtype).expand(batch, 1, -1), null_on[:, None])  # B 1 D
        elif text is not None:
            raise ShapeError("text tokens were given but this DiT has no text branch "
                             "(config.text_dim is None); drop `text` or use a config with text_dim")

        image_given = semantic is not None or content is not None
        image_on = ~drop_image & image_given
        if semantic is not None:
            if self.semantic_proj is None:
                raise ShapeError("semantic tokens were given but this DiT has no semantic branch "
                                 "(config.semantic_dim is None); drop `semantic`")
            _check_tokens(semantic, batch, config.semantic_dim, "semantic", "semantic_dim")
            tokens = self.semantic_proj(semantic.to(dtype))                        # B N D
            add(tokens, image_on[:, None].expand(batch, tokens.shape[1]))
        if self.null_image is not None:
            add(self.null_image.to(dtype).expand(batch, 1, -1), ~image_on[:, None])  # B 1 D

        if not parts and content is None:
            return []
        shared = (torch.cat(parts, dim=1), torch.cat(masks, dim=1))               # B M D, B M

        if content is None:
            return [shared]
        if self.content_embed is None:
            raise ShapeError("a content latent was given but this DiT has no content branch "
                             "(config.content_channels is None); drop `content`")
        if content.shape[0] != batch:
            raise ShapeError(f"content has batch {content.shape[0]}, the latent {batch}")
        grid_tokens = self.content_embed(content.to(device), latent_hw,
                                         self.arch.patch_size[1:])              # B gh gw D
        split = (self.content_embed.should_split(tuple(grid_tokens.shape[1:3]))
                 if content_split is None else content_split)
        sets = (split_content_tokens(grid_tokens) if split
                else [grid_tokens.flatten(1, 2)])                                   # each B n D
        contexts = []
        for tokens in sets:
            mask = image_on[:, None].expand(batch, tokens.shape[1])
            contexts.append((torch.cat([shared[0], tokens], dim=1),               # B M+n D
                             torch.cat([shared[1], mask], dim=1)))                # B M+n
        return contexts


def dit_parameter_count(config: DiTConfig) -> int:
    """Parameters of ReducioDiT(config), counted on the meta device (no memory, no init cost)."""
    with torch.device("meta"):
        model = ReducioDiT(config)
    return model.num_parameters()


# ----------------------------------------------------------------------------- input helpers
def _batch_timesteps(timestep: torch.Tensor | float, batch: int, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(timestep, device=device)
    if t.ndim == 0:
        return t.expand(batch)
    if t.shape != (batch,):
        raise ShapeError(f"timestep must be a scalar or shape ({batch},), got {tuple(t.shape)}")
    return t


def _batch_flags(flag: FlagLike, batch: int, device: torch.device, name: str) -> torch.Tensor:
    if flag is None:
        return torch.zeros(batch, dtype=torch.bool, device=device)
    flags = torch.as_tensor(flag, device=device).to(torch.bool)
    if flags.ndim == 0:
        return flags.expand(batch)
    if flags.shape != (batch,):
        raise ShapeError(f"{name} must be a bool or a ({batch},) bool tensor, "
                         f"got shape {tuple(flags.shape)}")
    return flags


def _check_tokens(tokens: torch.Tensor, batch: int, dim: int | None, name: str, field: str) -> None:
    if tokens.ndim != 3 or tokens.shape[0] != batch or tokens.shape[2] != dim:
        raise ShapeError(f"{name} must be (B={batch}, L, {dim}) (DiTConfig.{field}={dim}), "
                         f"got {tuple(tokens.shape)}; use the encoder the DiT was configured for")


__all__ = ["ReducioDiT", "dit_parameter_count"]
