"""Random-weight stand-ins for the frozen models of full-scale generation, built from the released
configs (no downloads): T5 v1.1 XXL (text), PixArt-alpha XL-2-1024-MS with the SD VAE (stage 1,
the paper's "any T2I model"), OpenCLIP ViT-H-14 vision tower (image semantics) and the SD VAE
encoder (content latent). Timing does not depend on the weights' values, only on their shapes.

Sources of the configs (the values below were compared with these files or verbatim copies of
them; the SD VAE one from memory of the diffusers SD-1.x VAE layout):
- T5: https://huggingface.co/google/t5-v1_1-xxl/blob/main/config.json
- PixArt: https://huggingface.co/PixArt-alpha/PixArt-XL-2-1024-MS/blob/main/transformer/config.json
- SD VAE: https://huggingface.co/stabilityai/sd-vae-ft-ema/blob/main/config.json
- CLIP ViT-H-14: https://huggingface.co/laion/CLIP-ViT-H-14-laion2B-s32B-b79K/blob/main/config.json
  (vision_config)
"""

from __future__ import annotations

from typing import Any

import torch

from reducio.conditioning import SDVAEContentEncoder

T5_XXL: dict[str, Any] = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24,
                              num_heads=64, relative_attention_num_buckets=32,
                              feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6,
                              tie_word_embeddings=False)
PIXART_1024: dict[str, Any] = dict(num_attention_heads=16, attention_head_dim=72, in_channels=4,
                                   out_channels=8, num_layers=28, cross_attention_dim=1152,
                                   attention_bias=True, sample_size=128, patch_size=2,
                                   activation_fn="gelu-approximate", num_embeds_ada_norm=1000,
                                   norm_type="ada_norm_single", norm_elementwise_affine=False,
                                   norm_eps=1e-6, caption_channels=4096)
SD_VAE: dict[str, Any] = dict(in_channels=3, out_channels=3, latent_channels=4,
                              down_block_types=("DownEncoderBlock2D",) * 4,
                              up_block_types=("UpDecoderBlock2D",) * 4,
                              block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                              norm_num_groups=32, sample_size=256, scaling_factor=0.18215)
CLIP_VIT_H_14: dict[str, Any] = dict(hidden_size=1280, intermediate_size=5120,
                                     num_hidden_layers=32, num_attention_heads=16, patch_size=14,
                                     image_size=224, hidden_act="gelu", layer_norm_eps=1e-5,
                                     projection_dim=1024)


def _place(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    # a same-dtype `.to(dtype=...)` is a no-op that makes diffusers models warn; skip it
    module = module.to(device=device)
    if any(p.dtype != dtype for p in module.parameters() if p.is_floating_point()):
        module = module.to(dtype=dtype)
    return module.eval().requires_grad_(False)


def build_t5_encoder(config: dict, device: torch.device, dtype: torch.dtype):
    """A `T5EncoderModel` with random weights (no tokenizer: the benchmark feeds token ids and
    passes the states on as prompt embeddings)."""
    from transformers import T5Config, T5EncoderModel  # heavy: only the full-scale e2e benchmark needs it

    with torch.device(device):
        model = T5EncoderModel(T5Config(**config))
    return _place(model, device, dtype)


def build_pixart_pipeline(transformer: dict, vae: dict, device: torch.device, dtype: torch.dtype):
    """PixArtAlphaPipeline (transformer + SD VAE + DPM-Solver) without text encoder / tokenizer:
    it is called with precomputed T5 embeddings."""
    from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler,  # heavy: full-scale e2e only
                           PixArtAlphaPipeline, PixArtTransformer2DModel)

    with torch.device(device):
        net = PixArtTransformer2DModel(**transformer)
        autoencoder = AutoencoderKL(**vae)
    pipe = PixArtAlphaPipeline(tokenizer=None, text_encoder=None, vae=_place(autoencoder, device, dtype),
                               transformer=_place(net, device, dtype),
                               scheduler=DPMSolverMultistepScheduler())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_clip_vision(config: dict, device: torch.device, dtype: torch.dtype):
    """A `CLIPVisionModel` with random weights: the pipelines' `semantic_encoder` component."""
    from transformers import CLIPVisionConfig, CLIPVisionModel  # heavy: full-scale e2e only

    with torch.device(device):
        model = CLIPVisionModel(CLIPVisionConfig(**config))
    return _place(model, device, dtype)


def build_sd_encoder(config: dict, device: torch.device, dtype: torch.dtype):
    """An `AutoencoderKL` with random weights and its decoder dropped (as
    `SDVAEContentEncoder.from_pretrained` does): the pipelines' `content_encoder` component."""
    from diffusers import AutoencoderKL  # heavy: full-scale e2e only

    with torch.device(device):
        vae = AutoencoderKL(**config)
    vae.decoder = None
    vae.post_quant_conv = None
    return _place(vae, device, dtype)


def build_sd_content(config: dict, device: torch.device, dtype: torch.dtype):
    """`build_sd_encoder` in the conditioning interface (`SDVAEContentEncoder`), for latent
    extraction."""
    return _place(SDVAEContentEncoder(build_sd_encoder(config, device, dtype)), device, dtype)
